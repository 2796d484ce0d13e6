// core/pread.cpp — pread(2) until done: across EINTR and short reads.
#include "core/pread.hpp"

#include <cerrno>

#include <unistd.h>

namespace mk {

ssize_t pread_full(int fd, char* buf, std::size_t n, std::uint64_t offset) {
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

}  // namespace mk
