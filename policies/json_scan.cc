#include "policies/json_scan.h"

#include <set>

#include <nlohmann/json.hpp>

#include "policies/policy_error.h"

namespace consentd::policies {
namespace {

using json = nlohmann::json;

// Tracks the pointer of the value being parsed. A frame per open container.
class ScanHandler {
 public:
  explicit ScanHandler(JsonScanResult* out) : out_(out) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(json::number_integer_t) { return Value(); }
  bool number_unsigned(json::number_unsigned_t) { return Value(); }
  bool number_float(json::number_float_t, const std::string&) { return Value(); }
  bool string(std::string&) { return Value(); }
  bool binary(json::binary_t&) { return Value(); }

  bool start_object(std::size_t) { return Open(true); }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(false); }
  bool end_array() { return Close(); }

  bool key(std::string& k) {
    Frame& f = frames_.back();
    f.key = k;
    if (!f.keys.insert(k).second) {
      out_->duplicate_keys.push_back(JsonPointerChild(PointerOfTop(), k));
    }
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    Fail(ex.what());
    return false;
  }

  bool depth_exceeded() const { return depth_exceeded_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string key;
    size_t index = 0;
  };

  // The pointer of the container on top of the stack (built from the frames
  // below it, each naming the child being parsed).
  std::string PointerOfTop() const {
    std::string p;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      p = f.is_object ? JsonPointerChild(p, f.key) : JsonPointerChild(p, f.index);
    }
    return p;
  }

  bool Value() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
    return true;
  }
  bool Open(bool is_object) {
    if (static_cast<int>(frames_.size()) >= kMaxJsonDepth) {
      depth_exceeded_ = true;
      return false;
    }
    frames_.push_back(Frame{is_object, {}, {}, 0});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Value();
  }
  void Fail(const std::string& what) {
    // nlohmann: "[json.exception.parse_error.101] parse error at line 3,
    // column 14: syntax error while parsing ...". Keep line, column and the
    // text after them.
    out_->message = what;
    size_t at = what.find("at line ");
    if (at != std::string::npos) {
      int line = 0, column = 0;
      size_t i = at + 8;
      while (i < what.size() && what[i] >= '0' && what[i] <= '9') line = line * 10 + (what[i++] - '0');
      if (what.compare(i, 9, ", column ") == 0) {
        i += 9;
        while (i < what.size() && what[i] >= '0' && what[i] <= '9') column = column * 10 + (what[i++] - '0');
      }
      out_->line = line;
      out_->column = column;
      if (i + 2 <= what.size() && what.compare(i, 2, ": ") == 0) out_->message = what.substr(i + 2);
    } else {
      size_t close = what.find("] ");
      if (close != std::string::npos) out_->message = what.substr(close + 2);
    }
  }

  JsonScanResult* out_;
  std::vector<Frame> frames_;
  bool depth_exceeded_ = false;
};

}  // namespace

JsonScanResult ScanJson(std::string_view bytes) {
  JsonScanResult result;
  try {
    ScanHandler handler(&result);
    bool ok = json::sax_parse(bytes, &handler, json::input_format_t::json, /*strict=*/true);
    if (handler.depth_exceeded()) {
      result.well_formed = false;
      result.line = 0;
      result.column = 0;
      result.message = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return result;
    }
    result.well_formed = ok;
    if (!ok && result.message.empty()) result.message = "malformed JSON";
  } catch (const std::exception& e) {
    result.well_formed = false;
    result.message = std::string("malformed JSON: ") + e.what();
  } catch (...) {
    result.well_formed = false;
    result.message = "malformed JSON";
  }
  return result;
}

}  // namespace consentd::policies
