// store/queue.cpp — the queue as the files say it is; damaged entries are reported, never skipped silently.
#include "store/queue.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json.hpp>

#include "core/durable.hpp"

namespace mk {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::optional<std::string> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

std::string_view status_name(RecipientState::Status s) {
    switch (s) {
        case RecipientState::Status::pending: return "pending";
        case RecipientState::Status::delivered: return "delivered";
        case RecipientState::Status::failed: return "failed";
    }
    return "pending";
}

std::string queue_state_to_json(const QueueState& s) {
    json::array rcpts;
    for (const RecipientState& r : s.recipients)
        rcpts.push_back(json::object{{"status", status_name(r.status)},
                                     {"attempts", r.attempts},
                                     {"last_attempt", r.last_attempt},
                                     {"last_reply", r.last_reply},
                                     {"last_status", r.last_status},
                                     {"remote", r.remote}});
    return json::serialize(json::object{{"recipients", std::move(rcpts)},
                                        {"next_attempt", s.next_attempt},
                                        {"warned", s.warned}}) + "\n";
}

std::optional<QueueState> queue_state_from_json(std::string_view text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    try {
        const json::object& o = v.as_object();
        QueueState s;
        for (const json::value& rv : o.at("recipients").as_array()) {
            const json::object& r = rv.as_object();
            RecipientState rs;
            std::string st = json::value_to<std::string>(r.at("status"));
            rs.status = st == "delivered" ? RecipientState::Status::delivered
                        : st == "failed"  ? RecipientState::Status::failed
                                          : RecipientState::Status::pending;
            rs.attempts = json::value_to<unsigned>(r.at("attempts"));
            rs.last_attempt = json::value_to<std::int64_t>(r.at("last_attempt"));
            rs.last_reply = json::value_to<std::string>(r.at("last_reply"));
            if (const json::value* st = r.if_contains("last_status")) rs.last_status = json::value_to<std::string>(*st);
            rs.remote = json::value_to<std::string>(r.at("remote"));
            s.recipients.push_back(std::move(rs));
        }
        s.next_attempt = json::value_to<std::int64_t>(o.at("next_attempt"));
        s.warned = o.at("warned").as_bool();
        return s;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

QueueListing list_queue(const fs::path& data_dir) {
    QueueListing out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data_dir / "queue", ec)) {
        if (e.path().extension() != ".env") continue;
        std::string id = e.path().stem().string();
        auto text = slurp(e.path());
        auto env = text ? envelope_from_json(*text) : std::nullopt;
        fs::path msg = e.path();
        msg.replace_extension(".eml");
        std::error_code size_ec;
        auto size = fs::file_size(msg, size_ec);
        if (!env) {
            out.damaged.push_back({id, "envelope unreadable"});
            continue;
        }
        if (size_ec) {
            out.damaged.push_back({id, "message file missing"});
            continue;
        }
        QueueEntry entry{std::move(*env), msg, size, {}};
        fs::path state = e.path();
        state.replace_extension(".state");
        if (auto st = slurp(state)) {
            auto parsed = queue_state_from_json(*st);
            if (!parsed || parsed->recipients.size() != entry.envelope.remote.size()) {
                out.damaged.push_back({id, "state unreadable"});
                continue;
            }
            entry.state = std::move(*parsed);
        } else {
            entry.state.recipients.resize(entry.envelope.remote.size());   // never tried yet
        }
        out.entries.push_back(std::move(entry));
    }
    std::sort(out.entries.begin(), out.entries.end(), [](const QueueEntry& a, const QueueEntry& b) {
        return std::tie(a.envelope.received_at, a.envelope.id) < std::tie(b.envelope.received_at, b.envelope.id);
    });
    return out;
}

fs::path quarantine_queue_entry(const fs::path& data_dir, const std::string& id) {
    fs::path q = data_dir / "queue", corrupt = data_dir / "corrupt";
    make_dir_durable(corrupt);
    // The envelope goes first: without it the entry is no longer "ready", whatever is left behind.
    for (const char* ext : {".env", ".eml", ".state"}) {
        fs::path from = q / (id + ext);
        if (::rename(from.c_str(), (corrupt / (id + ext)).c_str()) != 0 && errno != ENOENT)
            throw StorageError(fmt::format("rename {}: {}", from.string(), errno_text(errno)));
    }
    fsync_dir(corrupt);
    fsync_dir(q);
    return corrupt;
}

void save_queue_state(const fs::path& data_dir, const std::string& id, const QueueState& state) {
    write_file_durable(data_dir / "queue" / (id + ".state"), queue_state_to_json(state));
}

void remove_from_queue(const fs::path& data_dir, const std::string& id) {
    fs::path q = data_dir / "queue";
    // The envelope goes first: without it the message is no longer "ready", whatever is left.
    for (const char* ext : {".env", ".state", ".eml"}) ::unlink((q / (id + ext)).c_str());
    fsync_dir(q);
}

}  // namespace mk
