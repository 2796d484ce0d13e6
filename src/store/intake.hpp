// store/intake.hpp — the one door in: every message, whatever brought it, is written to the spool,
// then committed durably into its local mailboxes and the queue, and only then acknowledged.
//
// A commit is handed to one committer thread. It takes every commit pending when it wakes as one
// batch (group commit): starts write-back of all files, fsyncs each (the journal commits once for
// the batch), links each into its Maildir new/ and the queue, fsyncs each directory once, and only
// then completes the waiting sessions. Concurrent sessions so share their flushes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/durable.hpp"
#include "store/envelope.hpp"
#include "store/queue.hpp"

namespace mk {

// A message being received: a file in spool/ that only its writer knows. Unlinked if abandoned.
class SpoolFile {
public:
    SpoolFile(std::filesystem::path path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    ~SpoolFile();
    SpoolFile(const SpoolFile&) = delete;
    SpoolFile& operator=(const SpoolFile&) = delete;

    void write(std::string_view data);
    std::uint64_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

private:
    friend class Intake;
    std::filesystem::path path_;
    Fd fd_;
    std::uint64_t size_ = 0;
};

class Intake {
public:
    explicit Intake(std::filesystem::path data_dir);
    ~Intake();   // stops the committer after the batches in hand

    // recover - at start-up: remove spool leftovers and queue files that never became ready; logs
    // what it repaired. Call before serving.
    void recover();

    // committed - whether message id was committed (a queue envelope or a Maildir file names it);
    // for settling the state database after a crash. Reads directories: call it off the network thread.
    bool committed(const std::string& id) const;

    // create - a new spool file for message id.
    std::unique_ptr<SpoolFile> create(const std::string& id);

    // commit - make the message durable for every target in env (mailboxes, then the queue).
    // Throws StorageError when anything failed: nothing is then visible and the caller answers 4xx.
    boost::asio::awaitable<void> commit(std::unique_ptr<SpoolFile> file, const Envelope& env);

    // commit_sync - the same, blocking the caller (for the CLI and tests).
    void commit_sync(std::unique_ptr<SpoolFile> file, const Envelope& env);

    // save_queue_state - durably replace queue/<id>.state (the relay's per-recipient progress), in
    // the committer's next batch: concurrent deliveries share the fsync of queue/.
    boost::asio::awaitable<void> save_queue_state(const std::string& id, const QueueState& state);
    // remove_queued - take a finished message out of the queue (envelope first, then state and
    // message) and fsync queue/, batched likewise: once this returns it cannot come back after a
    // crash for a second delivery.
    boost::asio::awaitable<void> remove_queued(const std::string& id);

    const std::filesystem::path& data_dir() const { return data_dir_; }

    // on_queued - told of every committed message with remote recipients, on the committer thread
    // (the relay posts it to its own). Set before the first commit.
    void on_queued(std::function<void(const Envelope&)> f) { on_queued_ = std::move(f); }

    struct Stats {
        std::uint64_t messages = 0, batches = 0;
    };
    Stats stats() const;

private:
    // What the relay changes in the queue directory, through the same batches as new messages.
    struct QueueUpdate {
        std::string id;
        std::optional<QueueState> state;     // write queue/<id>.state, or
        bool remove = false;                 // remove the entry
    };
    // One request: a new message (file and env), or a queue update.
    struct Request {
        std::unique_ptr<SpoolFile> file;
        const Envelope* env = nullptr;
        std::optional<QueueUpdate> update;
        std::function<void(std::exception_ptr)> done;   // called on the committer thread
    };

    // submit - an awaitable that hands r to the committer and completes when its batch is done,
    // rethrowing its failure. Not a coroutine: g++ 12 destroys a move-only aggregate passed to a
    // coroutine by value twice (see docs/design.md, "Compiler notes").
    boost::asio::awaitable<void> submit(Request r);
    void enqueue(Request r);
    void run();
    void commit_batch(std::deque<Request>& batch);

    std::filesystem::path data_dir_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Request> pending_;
    bool stopping_ = false;
    Stats stats_;
    std::set<std::filesystem::path> ensured_;   // Maildirs known to exist (committer thread only)
    std::function<void(const Envelope&)> on_queued_;
    std::thread thread_;
};

}  // namespace mk
