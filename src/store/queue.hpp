// store/queue.hpp — the queue directory: queue/<id>.eml (the message), queue/<id>.env (its
// envelope, written last by the intake: the ready marker) and queue/<id>.state (the relay's
// per-recipient progress). The intake writes all of them, the relay's updates and removals too
// (Intake::save_queue_state, Intake::remove_queued); this is the reading side.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/envelope.hpp"

namespace mk {

// Per recipient: where delivery stands. Only final states (delivered, failed) are never retried.
struct RecipientState {
    enum class Status { pending, delivered, failed };
    Status status = Status::pending;
    unsigned attempts = 0;          // counted only while the next hop was reachable
    std::int64_t last_attempt = 0;  // unix seconds
    std::string last_reply;         // "550 5.1.1 no such user" or "connect: Connection refused"
    std::string last_status;        // its enhanced status code (RFC 3463) as "5.1.1", or empty
    std::string remote;             // the server that answered (DSN Remote-MTA)
};

// status_name - "pending", "delivered" or "failed", as the state file and the views spell it.
std::string_view status_name(RecipientState::Status s);

struct QueueState {
    std::vector<RecipientState> recipients;   // parallel to Envelope::remote
    std::int64_t next_attempt = 0;            // unix seconds; 0 = at once
    bool warned = false;                      // the delay DSN went out (at most once)
};

struct QueueEntry {
    Envelope envelope;
    std::filesystem::path message;
    std::uint64_t size = 0;
    QueueState state;
};

// A queue entry that cannot be read: never delivered, never guessed at, never left silently.
struct DamagedEntry {
    std::string id;
    std::string reason;   // "envelope unreadable", "state unreadable", "message file missing"
};

struct QueueListing {
    std::vector<QueueEntry> entries;         // oldest first
    std::vector<DamagedEntry> damaged;
};

QueueListing list_queue(const std::filesystem::path& data_dir);

// quarantine_queue_entry - move queue/<id>.* (envelope, message, state) to corrupt/, as Postfix
// does with its corrupt queue files: out of the relay's way, kept for the postmaster. Returns the
// directory they are in now.
std::filesystem::path quarantine_queue_entry(const std::filesystem::path& data_dir, const std::string& id);

std::string queue_state_to_json(const QueueState& s);
std::optional<QueueState> queue_state_from_json(std::string_view text);

}  // namespace mk
