// core/durable.cpp — POSIX calls with every result checked; failures become StorageError.
#include "core/durable.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/pread.hpp"

namespace mk {

std::string errno_text(int err) { return std::strerror(err); }

namespace {
[[noreturn]] void fail(std::string_view op, const std::filesystem::path& p, int err) {
    throw StorageError(fmt::format("{} {}: {}", op, p.string(), errno_text(err)));
}
}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

void Fd::close_checked(const std::filesystem::path& what) {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) fail("close", what, errno);
}

Fd create_exclusive(const std::filesystem::path& p) {
    int fd = ::open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) fail("create", p, errno);
    return Fd(fd);
}

void write_all(const Fd& fd, std::string_view data, const std::filesystem::path& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write", what, errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void fsync_fd(const Fd& fd, const std::filesystem::path& what) {
    if (::fsync(fd.get()) != 0) fail("fsync", what, errno);
}

void start_writeback(const Fd& fd) {
    // Advisory only: a failure here is found again, and reported, by the fsync that follows.
    ::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
}

void fsync_dir(const std::filesystem::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail("open", dir, errno);
    fsync_fd(fd, dir);
    fd.close_checked(dir);
}

void make_dir_durable(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        fsync_dir(dir.parent_path().empty() ? "." : dir.parent_path());
        return;
    }
    if (errno != EEXIST) fail("mkdir", dir, errno);
}

void write_file_durable(const std::filesystem::path& p, std::string_view data) {
    std::filesystem::path tmp = p;
    tmp += ".tmp";
    ::unlink(tmp.c_str());
    Fd fd = create_exclusive(tmp);
    write_all(fd, data, tmp);
    fsync_fd(fd, tmp);
    fd.close_checked(tmp);
    if (::rename(tmp.c_str(), p.c_str()) != 0) fail("rename", p, errno);
    fsync_dir(p.parent_path().empty() ? "." : p.parent_path());
}

std::string read_at_most(const std::filesystem::path& p, std::uint64_t offset, std::size_t max) {
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail("open", p, errno);
    std::string out(max, '\0');
    ssize_t got = pread_full(fd.get(), out.data(), max, offset);
    if (got < 0) fail("read", p, errno);
    out.resize(static_cast<std::size_t>(got));
    return out;
}

}  // namespace mk
