// core/secret.hpp — secrets from a command (password_command, oauth2_token_command): runs a command
// the administrator configured; its output is a credential, never logged.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace mk {

// A secret is one line; more output than this is a misconfigured command, not a password.
constexpr std::size_t kMaxSecretOutput = 4096;   // bytes of stdout, all lines together
// A command that has not answered by then (a locked keyring waiting for a prompt) is killed.
constexpr std::chrono::milliseconds kSecretTimeout{10'000};

// run_secret_command - runs `/bin/sh -c command` (stdin /dev/null, stderr inherited, in a process
// group of its own) and returns the first line of its stdout without the line end (LF or CRLF).
// Throws std::runtime_error, naming the exit status, when the command fails, prints nothing on the
// first line, prints more than kMaxSecretOutput bytes, or runs longer than timeout (its whole
// process group is then killed). Blocks the calling thread for at most about timeout.
std::string run_secret_command(const std::string& command,
                               std::chrono::milliseconds timeout = kSecretTimeout);

// password_source - the configured password, or password_command run each time it is asked for.
// Blocking: clients call it on the blocking pool.
std::function<std::string()> password_source(std::string password, std::string command);
// token_source - oauth2_token_command's token, kept until the caller asks for a fresh one
// (refresh = true, after the server refused it); empty command -> an empty function. Safe to call
// from several threads (an account's connections share it).
std::function<std::string(bool refresh)> token_source(std::string command);

}  // namespace mk
