// server/data_dir_lock.hpp — one daemon per data directory: DATA/mailkeep.pid, locked for as long as
// the daemon runs and holding its PID. A second daemon on the same directory would empty the first
// one's spool/ under a DATA in progress and take its control socket.
#pragma once

#include <filesystem>

#include "core/durable.hpp"

namespace mk {

// The lock file, in the data directory. It stays when the daemon exits (removing it would let two
// daemons lock two different files of that name); what marks a running daemon is the lock.
constexpr const char* kPidFile = "mailkeep.pid";

class DataDirLock {
public:
    // take - lock DATA/mailkeep.pid and write this process's PID into it; throws, naming the PID
    // of the daemon holding it, when another one does. Released when the process ends.
    static DataDirLock take(const std::filesystem::path& data_dir);

private:
    explicit DataDirLock(Fd fd) : fd_(std::move(fd)) {}
    // A POSIX (fcntl) lock, so that a second daemon can ask the kernel for the holder's PID; the
    // process loses it when any descriptor of the file is closed, and nothing else opens the file.
    Fd fd_;
};

}  // namespace mk
