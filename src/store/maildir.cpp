// store/maildir.cpp — Maildir naming and listing (https://cr.yp.to/proto/maildir.html, Maildir++ S=).
#include "store/maildir.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <memory>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "store/durable.hpp"

namespace mk {

namespace {

// The host part of a Maildir name may not hold '/' or ':' (the flag separator); keep it short so
// the unique part stays a valid POP3 UIDL (RFC 1939 7: at most 70 printable characters).
std::string safe_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string out;
    for (char* p = buf; *p && out.size() < 16; ++p) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        out += ok ? c : '_';
    }
    return out.empty() ? "localhost" : out;
}

}  // namespace

std::filesystem::path maildir_path(const std::filesystem::path& data_dir, std::string_view user) {
    return data_dir / "mail" / std::string(user);
}

void Maildir::ensure() const {
    make_dir_durable(root_.parent_path());
    make_dir_durable(root_);
    for (const char* sub : {"tmp", "new", "cur"}) make_dir_durable(root_ / sub);
}

std::string Maildir::unique_name(const std::string& queue_id, std::uint64_t size) {
    static const std::string host = safe_hostname();
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
    auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000;
    return fmt::format("{}.M{}P{}I{}.{},S={}", sec, usec, ::getpid(), queue_id, host, size);
}

bool Maildir::holds(const std::string& queue_id) const {
    std::string needle = "I" + queue_id + ".";
    for (const char* sub : {"new", "cur"}) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(root_ / sub, ec))
            if (e.path().filename().string().find(needle) != std::string::npos) return true;
    }
    return false;
}

std::string Maildir::uid_of(std::string_view filename) {
    return std::string(filename.substr(0, filename.find_first_of(",:")));
}

std::optional<std::uint64_t> Maildir::size_of(std::string_view filename) {
    std::string_view base = filename.substr(0, filename.find(':'));   // not the flags after ":2,"
    for (std::size_t at = base.find(','); at != std::string_view::npos; at = base.find(',', at + 1)) {
        if (base.substr(at + 1, 2) != "S=") continue;
        std::uint64_t size = 0;
        const char* first = base.data() + at + 3;
        const char* last = base.data() + base.size();
        auto [end, ec] = std::from_chars(first, last, size);
        if (ec == std::errc() && end != first && (end == last || *end == ',')) return size;
    }
    return std::nullopt;
}

std::vector<Maildir::Message> Maildir::list() const {
    // readdir(3) rather than std::filesystem: a maildrop may hold 100,000 messages, and a parsed
    // path object per entry costs more than the directory read itself.
    std::vector<Message> out;
    for (const char* sub : {"new", "cur"}) {
        std::string dir = (root_ / sub).string();
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) {
            if (errno == ENOENT) continue;   // a user who never received mail has no Maildir yet
            throw StorageError(fmt::format("opendir {}: {}", dir, errno_text(errno)));
        }
        while (const dirent* e = ::readdir(d.get())) {
            std::string_view name = e->d_name;
            if (name.empty() || name[0] == '.') continue;
            std::string path = dir + "/" + std::string(name);
            // The size in the name (Maildir++ S=, which mailkeep and Dovecot write) spares a stat per
            // message when the directory entry says what it is. Other names are stat'ed.
            std::optional<std::uint64_t> size = size_of(name);
            if (!size || e->d_type != DT_REG) {
                struct stat st {};
                if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
                if (!size) size = static_cast<std::uint64_t>(st.st_size);
            }
            out.push_back(Message{uid_of(name), std::move(path), *size});
        }
    }
    // Names begin with the delivery time in seconds, so that number, then the name, is delivery
    // order; names written by other tools sort by the same rule. Keys are made once, not per compare.
    struct Key {
        long long sec;
        std::string_view name;
        std::size_t index;
        bool operator<(const Key& o) const { return sec != o.sec ? sec < o.sec : name < o.name; }
    };
    std::vector<Key> keys;
    keys.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::string_view name = out[i].path;
        name.remove_prefix(name.rfind('/') + 1);
        long long sec = 0;
        std::from_chars(name.data(), name.data() + name.size(), sec);
        keys.push_back({sec, name, i});
    }
    std::sort(keys.begin(), keys.end());
    std::vector<Message> sorted;
    sorted.reserve(out.size());
    for (const Key& k : keys) sorted.push_back(std::move(out[k.index]));
    return sorted;
}

Fd Maildir::open(Message& m) const {
    Fd fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd || errno != ENOENT) return fd;
    std::vector<Message> now_listed;
    try {
        now_listed = list();
    } catch (const StorageError&) {
        errno = EIO;
        return Fd();
    }
    for (const Message& now : now_listed) {
        if (now.uid != m.uid) continue;
        m.path = now.path;
        return Fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    }
    errno = ENOENT;
    return Fd();
}

void Maildir::remove(const Message& m) const {
    if (::unlink(m.path.c_str()) != 0 && errno != ENOENT)
        throw StorageError(fmt::format("unlink {}: {}", m.path, errno_text(errno)));
}

}  // namespace mk
