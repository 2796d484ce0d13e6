// net/offload.hpp — run blocking work (crypt(3), directory listings) off the network thread and
// resume the calling session on its own executor when it is done.
#pragma once

#include <type_traits>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mk {

// The pool for blocking work: two threads, as many as this class of machine has cores.
boost::asio::thread_pool& blocking_pool();

// offload - co_await offload([&] { return slow(); }): f runs on the blocking pool; exceptions
// travel back to the caller. Whatever f captures by reference must outlive the co_await.
// f is a temporary (a lambda): passing a named std::function, copied into the coroutine's
// parameter, was seen to free that copy twice with g++ 12.
template <class F>
    requires(!std::is_lvalue_reference_v<F>)
boost::asio::awaitable<std::invoke_result_t<F>> offload(F&& f) {
    using R = std::invoke_result_t<F>;
    co_return co_await boost::asio::co_spawn(
        blocking_pool(), [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
        boost::asio::use_awaitable);
}

}  // namespace mk
