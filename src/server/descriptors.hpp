// server/descriptors.hpp — file descriptors: the daemon raises its soft limit as far as the hard
// limit allows, and keeps max_connections within what that limit can serve, so that accept() does
// not run out of descriptors while every session, delivery and fetch still gets the ones it needs.
#pragma once

#include <sys/resource.h>

#include <cstddef>
#include <optional>
#include <string>

#include "core/config.hpp"

namespace mk {

// A session holds its socket and, while a message is committed, its spool file and queue envelope.
constexpr std::size_t kFdsPerSession = 3;

// raise_descriptor_limit - the soft RLIMIT_NOFILE up to the hard one; returns the limit in force.
rlim_t raise_descriptor_limit();

// connections_within - the largest max_connections that limit descriptors serve beside what the
// daemon needs for itself under config (listeners, relay, fetch); 0 when not even one fits.
std::size_t connections_within(const Config& config, rlim_t limit);

// fit_connections - lower config's max_connections to what this process's descriptor limit serves,
// with a warning in the log; throws when not one connection fits.
void fit_connections(Config& config);

// descriptor_warning - for check-config, which runs with the limits of the shell and not of the
// service: what serve will do when max_connections does not fit in this process's hard limit.
std::optional<std::string> descriptor_warning(const Config& config);

}  // namespace mk
