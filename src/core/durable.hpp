// core/durable.hpp — the small system-call layer under every durable write: files created
// exclusively, written fully, fsynced, closed with the result checked; directories fsynced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mk {

// A storage failure: the caller answers 4xx (temporary) and leaves nothing half-written visible.
class StorageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// An open file descriptor that is closed (and the close checked, when asked) exactly once.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept;
    ~Fd();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // close_checked - close and throw StorageError if the kernel reports a failure (NFS, quota).
    void close_checked(const std::filesystem::path& what);

private:
    int fd_ = -1;
};

// create_exclusive - O_CREAT|O_EXCL|O_WRONLY|O_CLOEXEC, mode 0600.
Fd create_exclusive(const std::filesystem::path& p);
// write_all - the whole buffer, retrying short writes and EINTR.
void write_all(const Fd& fd, std::string_view data, const std::filesystem::path& what);
void fsync_fd(const Fd& fd, const std::filesystem::path& what);
// start_writeback - begin writing the file's pages now, so that the fsyncs of a batch find their
// data already on its way and the journal commits once for all of them.
void start_writeback(const Fd& fd);
void fsync_dir(const std::filesystem::path& dir);
// make_dir_durable - mkdir (if missing) and fsync its parent, so the new name survives a crash.
void make_dir_durable(const std::filesystem::path& dir);
// write_file_durable - tmp + fsync + rename + fsync dir, for small metadata files.
void write_file_durable(const std::filesystem::path& p, std::string_view data);
// read_at_most - up to max bytes of the file from offset (fewer only at its end); blocking, so off
// the network thread. Throws StorageError when the file cannot be opened or read.
std::string read_at_most(const std::filesystem::path& p, std::uint64_t offset, std::size_t max);
std::string errno_text(int err);

}  // namespace mk
