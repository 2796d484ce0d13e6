// store/sqlite_file.cpp — owner-only SQLite files (see the header).
#include "store/sqlite_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/durable.hpp"

namespace mk {

namespace {

// The database and the files SQLite keeps beside it in WAL mode. SQLite's unix VFS creates the
// -wal and -shm files with the mode of the database file (os_unix.c, findCreateFileMode), so a
// database created 0600 keeps all three owner-only.
constexpr const char* kDbSuffixes[] = {"", "-wal", "-shm"};
// The fetch history and the mail index name every message: owner only, like all of the data directory.
constexpr mode_t kDbMode = 0600;

// narrow_mode - take group and other bits off one existing database file (an older version created
// them 0644). A symlink, a FIFO or anything else but a regular file is left alone, never followed.
void narrow_mode(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return;   // absent: the usual case for -wal and -shm after a clean stop
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return;
    const mode_t narrowed = st.st_mode & 0700;
    if (::fchmod(fd.get(), narrowed) != 0) {
        spdlog::warn("{}: mode {:o} is readable by others and cannot be changed: {}", path, st.st_mode & 07777,
                     errno_text(errno));
        return;
    }
    spdlog::warn("{}: mode {:o} narrowed to {:o}", path, st.st_mode & 07777, narrowed);
}

}  // namespace

std::string owner_only_db(const std::filesystem::path& file) {
    for (const char* suffix : kDbSuffixes) narrow_mode(file.string() + suffix);
    int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, kDbMode);
    if (fd >= 0) ::close(fd);   // an empty file is an empty SQLite database
    else if (errno != EEXIST) throw StorageError(fmt::format("create {}: {}", file.string(), errno_text(errno)));
    return file.string();
}

}  // namespace mk
