// store/json_impl.cpp — Boost.JSON compiled once, header-only mode (Debian ships no libboost_json 1.81).
#include <boost/json/src.hpp>
