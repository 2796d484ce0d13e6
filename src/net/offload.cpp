// net/offload.cpp — the process-wide pool for blocking work.
#include "net/offload.hpp"

namespace mk {

boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(2);
    return pool;
}

}  // namespace mk
