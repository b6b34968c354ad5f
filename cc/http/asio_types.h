// The Asio types the HTTP listener's sessions share. Every socket, timer and
// coroutine runs on one of the listener's io_contexts; naming its executor
// type (instead of the type-erased any_io_executor) spares every asynchronous
// operation a type-erased executor copy.
#pragma once

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kei::http {

using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, Executor>;
template <class T>
using Awaitable = boost::asio::awaitable<T, Executor>;
// Completion token for co_await that returns (error_code, ...) instead of throwing.
inline constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>());

}  // namespace kei::http
