// server/data_dir_lock.cpp — the data directory's lock file; its content only informs, the lock
// itself (asked of the kernel) says who runs.
#include "server/data_dir_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>

namespace mk {

namespace {

// whole_file - a write lock on every byte of the file, the request and the query alike.
struct flock whole_file() {
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    return lk;
}

// holder - the PID of the process that holds the lock on fd's file, or 0 when none does now.
pid_t holder(const Fd& fd) {
    struct flock lk = whole_file();
    if (::fcntl(fd.get(), F_GETLK, &lk) != 0 || lk.l_type == F_UNLCK) return 0;
    return lk.l_pid;
}

}  // namespace

DataDirLock DataDirLock::take(const std::filesystem::path& data_dir) {
    std::filesystem::path file = data_dir / kPidFile;
    Fd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) throw std::runtime_error(fmt::format("cannot open {}: {}", file.string(), errno_text(errno)));
    struct flock lk = whole_file();
    if (::fcntl(fd.get(), F_SETLK, &lk) != 0) {
        if (errno != EAGAIN && errno != EACCES)
            throw std::runtime_error(fmt::format("cannot lock {}: {}", file.string(), errno_text(errno)));
        pid_t pid = holder(fd);
        throw std::runtime_error(
            pid ? fmt::format("data_dir {} is in use by another mailkeep, PID {}: one daemon per data directory",
                              data_dir.string(), pid)
                : fmt::format("data_dir {} was in use by another mailkeep that has just stopped; start again",
                              data_dir.string()));
    }
    if (::ftruncate(fd.get(), 0) != 0)
        throw std::runtime_error(fmt::format("cannot write {}: {}", file.string(), errno_text(errno)));
    write_all(fd, fmt::format("{}\n", ::getpid()), file);
    return DataDirLock(std::move(fd));
}

}  // namespace mk
