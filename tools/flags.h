// Command-line flags for one `vrec` subcommand. Each subcommand declares its own flags, so
// `vrec <command> --help` lists exactly what that command takes and an unknown or malformed
// flag is a clear error. Only `main` parses flags (STYLE.md); libraries take options structs.
#ifndef VREC_TOOLS_FLAGS_H_
#define VREC_TOOLS_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vrec {

class FlagSet {
 public:
  // `command` is "vrec generate"; `summary` is one line saying what it does.
  FlagSet(std::string command, std::string summary);

  // Each registers --name, writing into `target`, whose current value is the default.
  void String(const std::string& name, std::string* target, const std::string& help);
  void Int(const std::string& name, int64_t* target, const std::string& help);
  void Uint32(const std::string& name, uint32_t* target, const std::string& help);
  void Uint64(const std::string& name, uint64_t* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  // --name, --name=true|false, --noname.
  void Bool(const std::string& name, bool* target, const std::string& help);
  // The flag must be given.
  void Require(const std::string& name);

  // Parses argv[first..argc). --name=value and --name value are accepted. InvalidArgument
  // (naming the flag, pointing to --help) for unknown flags, bad values, positional arguments
  // or missing required flags. After --help, returns OK with help_requested() true.
  [[nodiscard]] absl::Status Parse(int argc, char** argv, int first = 2);
  bool help_requested() const { return help_requested_; }
  // Parse(), and on --help prints Usage() to stdout. Returns whether the command should run.
  absl::StatusOr<bool> ParseOrPrintHelp(int argc, char** argv, int first = 2);
  bool WasSet(const std::string& name) const;
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_value;
    bool is_bool = false;
    bool required = false;
    bool set = false;
    std::function<bool(const std::string&)> parse;
  };
  Flag* Find(const std::string& name);
  void Add(Flag flag);

  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

}  // namespace vrec

#endif  // VREC_TOOLS_FLAGS_H_
