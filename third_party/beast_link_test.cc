// Proves Boost.Asio + Beast work: one HTTP round trip over loopback on an ephemeral port.
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gtest/gtest.h"

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST(BeastLinkTest, HttpRoundTripOnLoopback) {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = acceptor.local_endpoint().port();

  std::thread server([&] {
    tcp::socket socket(ioc);
    acceptor.accept(socket);
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(socket, buffer, request);
    http::response<http::string_body> response(http::status::ok, request.version());
    response.body() = "echo:" + std::string(request.target());
    response.prepare_payload();
    http::write(socket, response);
  });

  net::io_context client_ioc;
  tcp::socket client(client_ioc);
  client.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(http::verb::get, "/ping", 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(client, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(client, buffer, response);
  server.join();

  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.body(), "echo:/ping");
}
