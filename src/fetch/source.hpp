// fetch/source.hpp — one provider folder as the fetcher sees it, whatever the protocol: a list of
// messages with stable ids, retrieval, deletion, and a close that commits the deletions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"

namespace mk {

struct RemoteMessage {
    std::string uid;          // stable across sessions: POP3 UIDL, or "folder/uidvalidity/uid" for IMAP
    std::uint64_t size = 0;
    std::uint64_t handle = 0; // the protocol's own reference: POP3 message number, IMAP UID
};

class Source {
public:
    virtual ~Source() = default;
    virtual boost::asio::awaitable<std::vector<RemoteMessage>> list() = 0;
    // next: what the caller will retrieve after m, if known (a protocol may ask for it early).
    virtual boost::asio::awaitable<void> retrieve(const RemoteMessage& m,
                                                  const std::function<void(std::string_view)>& sink,
                                                  const RemoteMessage* next = nullptr) = 0;
    // remove - mark for deletion; durable on the provider only after close() returns.
    virtual boost::asio::awaitable<void> remove(const std::vector<RemoteMessage>& ms) = 0;
    virtual boost::asio::awaitable<void> close() = 0;
    virtual std::string protocol_name() const = 0;   // "POP3", "POP3S", "IMAP", "IMAPS" for Received:
    // can_watch / watch - push (IMAP IDLE, RFC 2177): wait until the folder changes (true) or
    // max_wait passes (false). Only when can_watch(); the folder is selected by watch itself.
    virtual bool can_watch() const { return false; }
    virtual boost::asio::awaitable<bool> watch(std::chrono::seconds max_wait);
    // abort - drop the connection at once (shutdown while a watch waits).
    virtual void abort() {}
};

// open_sources - connect and log in to the account; one Source per folder (POP3: one). Throws
// std::runtime_error (the protocol clients' errors) with a message fit for `mailkeep status`.
boost::asio::awaitable<std::vector<std::unique_ptr<Source>>> open_sources(const Config& config,
                                                                          const AccountConfig& account);

}  // namespace mk
