// PlaceholderAdapter: stands in for an adapter that is not written yet.
// Every operation fails permanently with code "not_implemented", so nothing
// is ever reported as delivered. Remove once every kind has its adapter.
#ifndef CONSENTD_ADAPTERS_PLACEHOLDER_ADAPTER_H_
#define CONSENTD_ADAPTERS_PLACEHOLDER_ADAPTER_H_

#include "adapters/adapter.h"

namespace consentd::adapters {

class PlaceholderAdapter final : public Adapter {
 public:
  Outcome Deliver(const Request&) override { return NotImplemented(); }
  Outcome Confirm(const Request&, const std::string&) override { return NotImplemented(); }
  bool Reauthenticate() override { return false; }
  std::optional<std::string> Lookup(const Customer&, Outcome* outcome) override {
    *outcome = NotImplemented();
    return std::nullopt;
  }

 private:
  static Outcome NotImplemented() {
    Outcome o;
    o.cls = OutcomeClass::kPermanent;
    o.code = "not_implemented";
    return o;
  }
};

}  // namespace consentd::adapters

#endif  // CONSENTD_ADAPTERS_PLACEHOLDER_ADAPTER_H_
