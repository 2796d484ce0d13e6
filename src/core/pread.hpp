// core/pread.hpp — positional file reads that neither a signal (EINTR) nor a short read cuts off;
// the caller owns the descriptor. Blocking: call it off the network thread unless the data is small.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/types.h>

namespace mk {

// pread_full - up to n bytes of fd at offset into buf, fewer only at the end of the file; -1 with
// errno set on an error.
ssize_t pread_full(int fd, char* buf, std::size_t n, std::uint64_t offset);

}  // namespace mk
