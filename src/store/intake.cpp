// store/intake.cpp — spool files and the group-committing committer thread. The only writer of
// Maildir new/ and of the queue.
#include "store/intake.hpp"

#include <cerrno>
#include <map>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "store/maildir.hpp"

namespace mk {

namespace fs = std::filesystem;

SpoolFile::~SpoolFile() {
    if (!path_.empty()) ::unlink(path_.c_str());   // abandoned: the message was never acknowledged
}

void SpoolFile::write(std::string_view data) {
    write_all(fd_, data, path_);
    size_ += data.size();
}

Intake::Intake(fs::path data_dir) : data_dir_(std::move(data_dir)) {
    make_dir_durable(data_dir_);
    make_dir_durable(data_dir_ / "spool");
    make_dir_durable(data_dir_ / "queue");
    make_dir_durable(data_dir_ / "mail");
    thread_ = std::thread([this] { run(); });
}

Intake::~Intake() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Intake::recover() {
    std::size_t removed = 0;
    for (const auto& e : fs::directory_iterator(data_dir_ / "spool")) {
        fs::remove(e.path());
        ++removed;
    }
    if (removed) spdlog::warn("recover: removed {} unacknowledged spool file(s)", removed);
    // A queue message is ready only once its .env exists: the .env is renamed in last.
    for (const auto& e : fs::directory_iterator(data_dir_ / "queue")) {
        const fs::path& p = e.path();
        fs::path env = p;
        env.replace_extension(".env");
        bool orphan = (p.extension() == ".eml" || p.extension() == ".state") && !fs::exists(env);
        if (orphan || p.extension() == ".tmp") {
            spdlog::warn("recover: removed unfinished queue file {}", p.filename().string());
            fs::remove(p);
        }
    }
}

bool Intake::committed(const std::string& id) const {
    if (fs::exists(data_dir_ / "queue" / (id + ".env"))) return true;
    std::error_code ec;
    for (const auto& user : fs::directory_iterator(data_dir_ / "mail", ec))
        if (Maildir(user.path()).holds(id)) return true;
    return false;
}

std::unique_ptr<SpoolFile> Intake::create(const std::string& id) {
    fs::path p = data_dir_ / "spool" / id;
    return std::make_unique<SpoolFile>(p, create_exclusive(p));
}

Intake::Stats Intake::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void Intake::enqueue(Request r) {
    {
        std::lock_guard lock(mu_);
        pending_.push_back(std::move(r));
    }
    cv_.notify_one();
}

boost::asio::awaitable<void> Intake::submit(Request r) {
    namespace asio = boost::asio;
    auto initiate = [this, r = std::move(r)](auto handler) mutable {
        // The handler is move-only; std::function wants a copy, so it travels in a shared_ptr.
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto work = std::make_shared<asio::executor_work_guard<decltype(ex)>>(ex);
        r.done = [h, work, ex](std::exception_ptr e) { asio::post(ex, [h, work, e]() mutable { std::move (*h)(e); }); };
        enqueue(std::move(r));
    };
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(std::move(initiate),
                                                                                          asio::use_awaitable);
}

boost::asio::awaitable<void> Intake::commit(std::unique_ptr<SpoolFile> file, const Envelope& env) {
    return submit(Request{std::move(file), &env, std::nullopt, {}});
}

boost::asio::awaitable<void> Intake::save_queue_state(const std::string& id, const QueueState& state) {
    return submit(Request{nullptr, nullptr, QueueUpdate{id, state, false}, {}});
}

boost::asio::awaitable<void> Intake::remove_queued(const std::string& id) {
    return submit(Request{nullptr, nullptr, QueueUpdate{id, std::nullopt, true}, {}});
}

void Intake::commit_sync(std::unique_ptr<SpoolFile> file, const Envelope& env) {
    std::mutex m;
    std::condition_variable cv;
    bool finished = false;
    std::exception_ptr err;
    enqueue(Request{std::move(file), &env, std::nullopt, [&](std::exception_ptr e) {
                        std::lock_guard lock(m);
                        err = e;
                        finished = true;
                        cv.notify_one();
                    }});
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return finished; });
    if (err) std::rethrow_exception(err);
}

void Intake::run() {
    for (;;) {
        std::deque<Request> batch;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;   // stopping, and nothing left in hand
            batch.swap(pending_);
        }
        commit_batch(batch);
    }
}

void Intake::commit_batch(std::deque<Request>& batch) {
    struct Work {
        Request* req;
        std::exception_ptr error;
        Fd env_fd;
        fs::path env_spool;                 // spool/<id>.env, when the message has remote recipients
        Fd state_fd;
        fs::path state_tmp;                 // queue/<id>.state.tmp, for a state update
        std::vector<fs::path> created;      // names made visible so far (removed again on failure)
        std::vector<fs::path> dirs;         // directories whose fsync makes them durable
    };
    std::vector<Work> work;
    work.reserve(batch.size());
    for (Request& r : batch) work.push_back(Work{&r, nullptr, Fd(), {}, Fd(), {}, {}, {}});
    const fs::path queue = data_dir_ / "queue";

    auto guarded = [](Work& w, auto&& step) {
        if (w.error) return;
        try {
            step();
        } catch (...) {
            w.error = std::current_exception();
        }
    };

    // 1. Write the queue envelope beside the message, and start write-back of both; write a
    //    relay state update to its temporary name.
    for (Work& w : work) {
        guarded(w, [&] {
            if (const auto& u = w.req->update) {
                if (!u->state) return;
                // Named by its place in the batch: two updates of one message in a batch must not
                // share a file; they are renamed in order, so the later one stands.
                w.state_tmp = queue / fmt::format("{}.state.{}.tmp", u->id, &w - work.data());
                ::unlink(w.state_tmp.c_str());   // left by a crash: replaced
                w.state_fd = create_exclusive(w.state_tmp);
                write_all(w.state_fd, queue_state_to_json(*u->state), w.state_tmp);
                start_writeback(w.state_fd);
                return;
            }
            SpoolFile& f = *w.req->file;
            if (!w.req->env->remote.empty()) {
                w.env_spool = f.path_;
                w.env_spool += ".env";
                w.env_fd = create_exclusive(w.env_spool);
                write_all(w.env_fd, envelope_to_json(*w.req->env), w.env_spool);
                start_writeback(w.env_fd);
            }
            start_writeback(f.fd_);
        });
    }
    // 2. fsync every file and check close(): after this the bytes are on disk.
    for (Work& w : work) {
        guarded(w, [&] {
            if (w.state_fd) {
                fsync_fd(w.state_fd, w.state_tmp);
                w.state_fd.close_checked(w.state_tmp);
            }
            if (w.req->update) return;
            SpoolFile& f = *w.req->file;
            fsync_fd(f.fd_, f.path_);
            f.fd_.close_checked(f.path_);
            if (w.env_fd) {
                fsync_fd(w.env_fd, w.env_spool);
                w.env_fd.close_checked(w.env_spool);
            }
        });
    }
    // 3. Make the names visible: a hard link per mailbox (one copy of the bytes for all local
    //    recipients), then the queue message, then its envelope, which marks it ready. A state
    //    update replaces the old state; a removal takes the envelope first (without it the entry is
    //    no longer ready, whatever else a crash leaves), then the state and the message.
    for (Work& w : work) {
        guarded(w, [&] {
            if (const auto& u = w.req->update) {
                if (u->state) {
                    fs::path state = queue / (u->id + ".state");
                    if (::rename(w.state_tmp.c_str(), state.c_str()) != 0)
                        throw StorageError(fmt::format("rename {}: {}", state.string(), errno_text(errno)));
                    w.state_tmp.clear();
                } else {
                    for (const char* ext : {".env", ".state", ".eml"}) {
                        fs::path p = queue / (u->id + ext);
                        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
                            throw StorageError(fmt::format("unlink {}: {}", p.string(), errno_text(errno)));
                    }
                }
                w.dirs.push_back(queue);
                return;
            }
            SpoolFile& f = *w.req->file;
            const Envelope& env = *w.req->env;
            for (const std::string& user : env.mailboxes) {
                Maildir md(maildir_path(data_dir_, user));
                if (!ensured_.contains(md.root())) {
                    md.ensure();
                    ensured_.insert(md.root());
                }
                fs::path name = md.new_dir() / Maildir::unique_name(env.id, f.size_);
                if (::link(f.path_.c_str(), name.c_str()) != 0)
                    throw StorageError(fmt::format("link {}: {}", name.string(), errno_text(errno)));
                w.created.push_back(name);
                w.dirs.push_back(md.new_dir());
            }
            if (!env.remote.empty()) {
                fs::path eml = data_dir_ / "queue" / (env.id + ".eml");
                fs::path qenv = data_dir_ / "queue" / (env.id + ".env");
                if (::link(f.path_.c_str(), eml.c_str()) != 0)
                    throw StorageError(fmt::format("link {}: {}", eml.string(), errno_text(errno)));
                w.created.push_back(eml);
                if (::rename(w.env_spool.c_str(), qenv.c_str()) != 0)
                    throw StorageError(fmt::format("rename {}: {}", qenv.string(), errno_text(errno)));
                w.created.push_back(qenv);
                w.dirs.push_back(data_dir_ / "queue");
            }
        });
    }
    // 4. fsync each directory once for the whole batch; a failure fails every message in it.
    std::map<fs::path, std::exception_ptr> dir_result;
    for (Work& w : work) {
        if (w.error) continue;
        for (const fs::path& d : w.dirs) {
            auto [it, fresh] = dir_result.try_emplace(d);
            if (fresh) {
                try {
                    fsync_dir(d);
                } catch (...) {
                    it->second = std::current_exception();
                }
            }
            if (it->second && !w.error) w.error = it->second;
        }
    }
    // 5. Complete: the spool names go (recovery would remove them anyway), failures take back
    //    what they made visible so that a 4xx never leaves a copy behind.
    std::uint64_t ok = 0;
    for (Work& w : work) {
        if (const auto& u = w.req->update) {
            if (!w.state_tmp.empty()) ::unlink(w.state_tmp.c_str());
            if (w.error) {
                try {
                    std::rethrow_exception(w.error);
                } catch (const std::exception& e) {
                    spdlog::error("{}: queue {} failed: {}", u->id, u->state ? "state update" : "removal", e.what());
                }
            }
            continue;
        }
        SpoolFile& f = *w.req->file;
        if (w.error) {
            for (const fs::path& p : w.created) ::unlink(p.c_str());
            try {
                std::rethrow_exception(w.error);
            } catch (const std::exception& e) {
                spdlog::error("{}: commit failed: {}", w.req->env->id, e.what());
            }
        } else {
            ++ok;
        }
        if (!w.env_spool.empty()) ::unlink(w.env_spool.c_str());
        ::unlink(f.path_.c_str());
        f.path_.clear();
    }
    {
        std::lock_guard lock(mu_);
        stats_.messages += ok;
        stats_.batches += 1;
    }
    for (Work& w : work) {
        if (!w.error && on_queued_ && w.req->env && !w.req->env->remote.empty()) on_queued_(*w.req->env);
        w.req->done(w.error);
    }
}

}  // namespace mk
