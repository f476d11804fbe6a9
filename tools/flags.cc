#include "tools/flags.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vrec {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  Add({name, help, *target, false, false, false, [target](const std::string& v) {
         *target = v;
         return true;
       }});
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help) {
  Add({name, help, absl::StrCat(*target), false, false, false,
       [target](const std::string& v) { return absl::SimpleAtoi(v, target); }});
}

void FlagSet::Uint32(const std::string& name, uint32_t* target, const std::string& help) {
  Add({name, help, absl::StrCat(*target), false, false, false,
       [target](const std::string& v) { return absl::SimpleAtoi(v, target); }});
}

void FlagSet::Uint64(const std::string& name, uint64_t* target, const std::string& help) {
  Add({name, help, absl::StrCat(*target), false, false, false,
       [target](const std::string& v) { return absl::SimpleAtoi(v, target); }});
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  Add({name, help, absl::StrCat(*target), false, false, false,
       [target](const std::string& v) { return absl::SimpleAtod(v, target); }});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  Add({name, help, *target ? "true" : "false", true, false, false,
       [target](const std::string& v) { return absl::SimpleAtob(v, target); }});
}

void FlagSet::Require(const std::string& name) {
  if (Flag* f = Find(name)) f->required = true;
}

bool FlagSet::WasSet(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f.set;
  }
  return false;
}

absl::Status FlagSet::Parse(int argc, char** argv, int first) {
  const std::string hint = absl::StrCat(" (see `", command_, " --help`)");
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'", hint));
    }
    arg = arg.substr(2);
    std::string name = arg, value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !has_value && name.rfind("no", 0) == 0) {
      Flag* negated = Find(name.substr(2));
      if (negated != nullptr && negated->is_bool) {
        flag = negated;
        value = "false";
        has_value = true;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, hint));
    }
    if (!has_value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value", hint));
      }
    }
    if (!flag->parse(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value '", value, "' for --", name, hint));
    }
    flag->set = true;
  }
  for (const Flag& f : flags_) {
    if (f.required && !f.set) {
      return absl::InvalidArgumentError(absl::StrCat("missing required flag --", f.name, hint));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FlagSet::ParseOrPrintHelp(int argc, char** argv, int first) {
  absl::Status status = Parse(argc, argv, first);
  if (!status.ok()) return status;
  if (help_requested_) std::printf("%s", Usage().c_str());
  return !help_requested_;
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", command_, " [flags]\n", summary_, "\n\nflags:\n");
  for (const Flag& f : flags_) {
    std::string left = absl::StrCat("  --", f.name);
    if (!f.is_bool) left += "=VALUE";
    absl::StrAppendFormat(&out, "%-28s %s", left, f.help);
    if (f.required) {
      out += " (required)";
    } else if (!f.default_value.empty()) {
      absl::StrAppend(&out, " (default: ", f.default_value, ")");
    }
    out += "\n";
  }
  return out;
}

}  // namespace vrec
