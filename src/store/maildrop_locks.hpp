// store/maildrop_locks.hpp — one reading session per maildrop at a time (POP3: RFC 1939 8, RFC 2449
// [IN-USE]). The daemon runs its sessions on one thread, so an in-process set is the whole lock.
#pragma once

#include <set>
#include <string>

namespace mk {

class MaildropLocks {
public:
    // try_lock - false if another session holds this user's maildrop.
    bool try_lock(const std::string& user) { return held_.insert(user).second; }
    void unlock(const std::string& user) { held_.erase(user); }

private:
    std::set<std::string> held_;
};

}  // namespace mk
