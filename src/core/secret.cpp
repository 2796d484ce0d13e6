// core/secret.cpp — runs a configured secret command with bounded output and a deadline; the
// command is trusted (the administrator wrote it), its output is a credential and is never logged.
#include "core/secret.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

extern char** environ;

namespace mk {

namespace {

// While the command runs, its exit is checked this often once its stdout goes quiet: a background
// child may hold the pipe open after the command itself has finished.
constexpr int kPollSliceMs = 20;

// Fd - closes a file descriptor on every path.
struct Fd {
    int fd = -1;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

// describe_status - "exit status 3" / "killed by signal 9" for a waitpid status.
std::string describe_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return fmt::format("wait status {}", status);
}

// Child - the spawned process: killed (with its whole group) and reaped unless waited for.
struct Child {
    pid_t pid = -1;
    bool reaped = false;
    int status = 0;

    ~Child() { kill_and_reap(); }
    // try_reap - true once the command has exited (status then holds its wait status).
    bool try_reap() {
        if (reaped) return true;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) reaped = true;
        return reaped;
    }
    void kill_and_reap() {
        if (pid <= 0 || reaped) return;
        ::kill(-pid, SIGKILL);   // the group: sh and whatever it started
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        reaped = true;
    }
};

using Clock = std::chrono::steady_clock;

// remaining_ms - milliseconds until deadline, at least 0.
int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

std::string run_secret_command(const std::string& command, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;

    // stdout: a pipe we read; stdin: nothing (a command that prompts must not read our input).
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        throw std::runtime_error(fmt::format("secret command: pipe: {}", std::strerror(errno)));
    Fd out{pipefd[0]}, child_out{pipefd[1]};

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, child_out.fd, STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // A process group of its own, so a timeout kills the shell and everything it started.
    posix_spawnattr_setpgroup(&attr, 0);
    // The child must not inherit a blocked or ignored SIGPIPE/SIGCHLD disposition from the daemon.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    Child child;
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    int rc = ::posix_spawn(&child.pid, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        child.pid = -1;
        throw std::runtime_error(fmt::format("secret command: cannot start /bin/sh: {}", std::strerror(rc)));
    }
    child_out.reset();   // only the child writes: our copy would keep the pipe from ever reaching EOF

    std::string output;
    bool exited = false;   // the command has exited: drain what is in the pipe without waiting
    for (;;) {
        int left = remaining_ms(deadline);
        if (left == 0) {
            child.kill_and_reap();
            throw std::runtime_error(fmt::format("secret command: timed out after {} ms (killed)", timeout.count()));
        }
        pollfd p{out.fd, POLLIN, 0};
        int n = ::poll(&p, 1, exited ? 0 : std::min(left, kPollSliceMs));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(fmt::format("secret command: poll: {}", std::strerror(errno)));
        }
        if (n == 0) {
            // Quiet: if the command itself has exited, a background child holding the pipe is not ours
            // to wait for. Check then drain once more: it may have written just before exiting.
            if (exited) break;
            exited = child.try_reap();
            continue;
        }
        char buf[1024];
        ssize_t got = ::read(out.fd, buf, sizeof buf);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throw std::runtime_error(fmt::format("secret command: read: {}", std::strerror(errno)));
        }
        if (got == 0) break;   // EOF
        if (output.size() + static_cast<std::size_t>(got) > kMaxSecretOutput) {
            child.kill_and_reap();
            throw std::runtime_error(
                fmt::format("secret command: more than {} bytes of output (killed)", kMaxSecretOutput));
        }
        output.append(buf, static_cast<std::size_t>(got));
    }

    // The output is complete; the command still has the rest of the deadline to exit.
    while (!child.try_reap()) {
        if (remaining_ms(deadline) == 0) {
            child.kill_and_reap();
            throw std::runtime_error(fmt::format("secret command: timed out after {} ms (killed)", timeout.count()));
        }
        ::usleep(kPollSliceMs * 1000);
    }
    if (!WIFEXITED(child.status) || WEXITSTATUS(child.status) != 0)
        throw std::runtime_error(fmt::format("secret command failed: {}", describe_status(child.status)));

    std::string line = output.substr(0, output.find('\n'));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty())
        throw std::runtime_error(
            fmt::format("secret command printed nothing on its first line ({})", describe_status(child.status)));
    return line;
}

std::function<std::string()> password_source(std::string password, std::string command) {
    return [password = std::move(password), command = std::move(command)] {
        return command.empty() ? password : run_secret_command(command);
    };
}

std::function<std::string(bool)> token_source(std::string command) {
    if (command.empty()) return {};
    struct Cache {
        std::mutex mu;
        std::string token;
    };
    auto cache = std::make_shared<Cache>();
    return [command = std::move(command), cache](bool refresh) {
        std::lock_guard lock(cache->mu);
        if (refresh || cache->token.empty()) cache->token = run_secret_command(command);
        return cache->token;
    };
}

}  // namespace mk
