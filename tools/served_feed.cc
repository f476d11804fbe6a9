#include "tools/served_feed.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/json_reader.h"
#include "tools/http_connection.h"

namespace vrec {
namespace {

class ServedFeedSystem : public evaluation::ReplaySystem {
 public:
  ServedFeedSystem(uint32_t address, uint16_t port, uint32_t max_count)
      : address_(address), port_(port), max_count_(max_count) {}
  ~ServedFeedSystem() override {
    if (shed_ > 0) {
      std::fprintf(stderr, "replay: served-feed: the server shed %llu requests with 503; each was retried\n",
                   static_cast<unsigned long long>(shed_.load()));
    }
    if (failures_ > 0) {
      std::fprintf(stderr, "replay: served-feed: %llu requests failed (scored as empty lists)\n",
                   static_cast<unsigned long long>(failures_.load()));
    }
  }

  std::string name() const override { return "served-feed"; }

  void Recommend(const evaluation::TestCase& test, int k, Rng& rng, std::vector<VideoId>* out) const override {
    thread_local std::unique_ptr<HttpConnection> connection;
    if (connection == nullptr) connection = std::make_unique<HttpConnection>(port_, address_);
    const std::string target =
        absl::StrCat("/v1/feed?user_id=", test.user, "&count=", std::min<uint32_t>(k, max_count_));
    std::string body;
    int status = connection->Get(target, &body);
    if (status < 0) status = connection->Get(target, &body);  // a closed keep-alive connection
    // A busy server sheds with 503 (Retry-After): the replay waits and asks again, as a client
    // would, rather than scoring an empty feed.
    for (int attempt = 1; status == 503 && attempt <= 50; ++attempt) {
      ++shed_;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100, 5 * attempt)));
      status = connection->Get(target, &body);
      if (status < 0) status = connection->Get(target, &body);
    }
    absl::StatusOr<JsonValue> json = status == 200 ? ParseJson(body) : absl::UnknownError("status");
    const JsonValue* items = json.ok() ? json->Find("items") : nullptr;
    if (items == nullptr || !items->is_array()) {
      ++failures_;
      return;
    }
    for (const JsonValue& item : items->array()) {
      const JsonValue* id = item.Find("video_id");
      if (id == nullptr || !id->is_integer() || id->integer() < 0) continue;
      const VideoId v = static_cast<VideoId>(id->integer());
      if (!std::binary_search(test.history.begin(), test.history.end(), v)) out->push_back(v);
    }
  }

 private:
  uint32_t address_;
  uint16_t port_;
  uint32_t max_count_;
  mutable std::atomic<uint64_t> failures_{0};
  mutable std::atomic<uint64_t> shed_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<evaluation::ReplaySystem>> MakeServedFeedSystem(const std::string& server,
                                                                               uint32_t max_count) {
  absl::string_view rest = server;
  absl::ConsumePrefix(&rest, "http://");
  rest = absl::StripSuffix(rest, "/");
  const size_t colon = rest.rfind(':');
  in_addr address{};
  uint32_t port = 0;
  if (colon == absl::string_view::npos ||
      ::inet_pton(AF_INET, std::string(rest.substr(0, colon)).c_str(), &address) != 1 ||
      !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server must be HOST:PORT with an IPv4 host (e.g. 127.0.0.1:8080), got '", server, "'"));
  }
  const uint32_t host = ntohl(address.s_addr);
  HttpConnection probe(static_cast<uint16_t>(port), host);
  std::string body;
  if (probe.Get("/healthz", &body) != 200) {
    return absl::UnavailableError(absl::StrCat("no vrec server answers /healthz at ", server,
                                               " (start one with `vrec serve --read-only` on the replay's past)"));
  }
  return std::unique_ptr<evaluation::ReplaySystem>(
      std::make_unique<ServedFeedSystem>(host, static_cast<uint16_t>(port), max_count));
}

}  // namespace vrec
