// imap/mailbox_list.cpp — LIST and LSUB over a user's folders (see mailbox_list.hpp).
#include "imap/mailbox_list.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/text.hpp"

namespace mk::imap {

namespace {

bool has(const std::vector<std::string>& v, std::string_view x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool matches_any(const std::string& name, const std::vector<std::string>& patterns) {
    for (const std::string& p : patterns)
        if (list_match(name, p) || (name == "INBOX" && list_match("INBOX", uppercase_ascii(p)))) return true;
    return false;
}

}  // namespace

bool list_match(std::string_view name, std::string_view pattern) {
    if (pattern.empty()) return name.empty();
    if (pattern[0] == '*') {
        for (std::size_t i = 0; i <= name.size(); ++i)
            if (list_match(name.substr(i), pattern.substr(1))) return true;
        return false;
    }
    if (pattern[0] == '%') {
        for (std::size_t i = 0; i <= name.size(); ++i) {
            if (list_match(name.substr(i), pattern.substr(1))) return true;
            if (i < name.size() && name[i] == '.') return false;
        }
        return false;
    }
    return !name.empty() && name[0] == pattern[0] && list_match(name.substr(1), pattern.substr(1));
}

Listing list_folders(std::vector<FolderInfo> folders, const Command& c, const std::vector<std::string>& patterns, bool utf8) {
    Listing out;
    const bool lsub = c.verb == Verb::lsub;
    const char* verb = lsub ? "LSUB" : "LIST";
    for (const std::string& o : c.list_select)
        if (o != "SUBSCRIBED" && o != "SPECIAL-USE" && o != "REMOTE" && o != "RECURSIVEMATCH") {
            out.error = "unknown selection option " + o;
            return out;
        }
    const bool subscribed_only = lsub || has(c.list_select, "SUBSCRIBED");
    const bool recursive = has(c.list_select, "RECURSIVEMATCH");
    // RFC 5258 3: RECURSIVEMATCH qualifies another option; alone (or with REMOTE) it is an error.
    if (recursive && !has(c.list_select, "SUBSCRIBED") && !has(c.list_select, "SPECIAL-USE")) {
        out.error = "RECURSIVEMATCH needs another selection option";
        return out;
    }
    for (const std::string& o : c.list_return)
        if (o != "SUBSCRIBED" && o != "CHILDREN" && o != "SPECIAL-USE" && o != "STATUS") {
            out.error = "unknown return option " + o;
            return out;
        }
    if (patterns.size() == 1 && patterns[0].empty() && !c.list_extended) {
        // RFC 9051 6.3.9: an empty pattern asks for the separator and the root.
        out.folders.push_back({fmt::format("{} (\\Noselect) \".\" \"\"", verb), "", false});
        return out;
    }
    // A level that has children but no folder of its own (its folder was deleted, RFC 3501 6.3.4) is
    // listed as \Noselect, so that a client walking the tree with "%" still reaches the children.
    std::set<std::string> names, levels;
    for (const FolderInfo& f : folders) names.insert(f.name);
    for (const FolderInfo& f : folders)
        for (std::size_t dot = f.name.find('.'); dot != std::string::npos; dot = f.name.find('.', dot + 1))
            if (!f.nonexistent && !names.contains(f.name.substr(0, dot))) levels.insert(f.name.substr(0, dot));
    for (const std::string& level : levels) {
        FolderInfo parent;
        parent.name = level;
        parent.has_children = true;
        parent.nonexistent = true;
        folders.push_back(std::move(parent));
    }
    std::sort(folders.begin(), folders.end(), [](const FolderInfo& a, const FolderInfo& b) {
        return (a.name != "INBOX") < (b.name != "INBOX") || ((a.name == "INBOX") == (b.name == "INBOX") && a.name < b.name);
    });
    // RECURSIVEMATCH (RFC 5258 3.5): a parent of a folder the selection takes is listed whether or not
    // it is taken itself, with a CHILDINFO that says why.
    std::map<std::string, std::string> child_info;
    const std::string criterion = has(c.list_select, "SUBSCRIBED") ? "SUBSCRIBED" : "SPECIAL-USE";
    auto selected = [&](const FolderInfo& f) {
        return (!subscribed_only || f.subscribed) && (!has(c.list_select, "SPECIAL-USE") || !f.special_use.empty());
    };
    if (recursive)
        for (const FolderInfo& f : folders)
            if (selected(f))
                for (std::size_t dot = f.name.find('.'); dot != std::string::npos; dot = f.name.find('.', dot + 1))
                    child_info[f.name.substr(0, dot)] = criterion;
    const bool show_subscribed = subscribed_only || has(c.list_return, "SUBSCRIBED");
    for (const FolderInfo& f : folders) {
        if (!matches_any(f.name, patterns)) continue;
        auto why = child_info.find(f.name);
        const bool take = selected(f);
        if (!take && why == child_info.end()) continue;
        // A level without a folder: \Noselect to IMAP4rev1's LIST and LSUB, \NonExistent (which
        // implies it) to LIST-EXTENDED; a subscribed name that is gone: \NonExistent, or \Noselect in LSUB.
        std::vector<std::string> attrs;
        if (f.nonexistent) attrs.push_back(c.list_extended ? "\\NonExistent" : "\\Noselect");
        if (!lsub || !f.nonexistent) attrs.push_back(f.has_children ? "\\HasChildren" : "\\HasNoChildren");
        if (show_subscribed && f.subscribed && !lsub) attrs.push_back("\\Subscribed");
        if (!lsub && !f.special_use.empty()) attrs.push_back(f.special_use);
        std::string line = fmt::format("{} ({}) \".\" {}", verb, fmt::join(attrs, " "), quoted_mailbox(f.name, utf8));
        if (why != child_info.end()) line += fmt::format(" (\"CHILDINFO\" (\"{}\"))", why->second);
        out.folders.push_back({std::move(line), f.name, !f.nonexistent && take});
    }
    return out;
}

}  // namespace mk::imap
