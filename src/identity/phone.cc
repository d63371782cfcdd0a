#include "src/identity/phone.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <exception>
#include <string>

namespace consentd::identity {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

Status Invalid(std::string_view reason) {
  return Status::InvalidArgument("phone: " + std::string(reason));
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

Result<std::string> NormalizePhoneOrThrow(std::string_view number, std::string_view default_region) {
  while (!number.empty() && IsAsciiSpace(number.front())) number.remove_prefix(1);
  while (!number.empty() && IsAsciiSpace(number.back())) number.remove_suffix(1);
  if (number.empty()) return Invalid("empty");
  if (number.size() > 64) return Invalid("longer than 64 bytes");
  bool has_digit = false;
  for (unsigned char c : number) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return Invalid("letters are not allowed (no vanity numbers or extensions)");
    }
    if (c < 0x20 || c == 0x7f) return Invalid("control character");
    if (c >= 0x80) return Invalid("non-ASCII character");
    if (c >= '0' && c <= '9') has_digit = true;
  }
  if (!has_digit) return Invalid("no digits");

  const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
  std::string region(default_region);
  if (!region.empty() && util.GetCountryCodeForRegion(region) == 0) {
    return Status::InvalidArgument("phone: default region \"" + region.substr(0, 8) + "\" is unknown");
  }
  // "00 44 ..." is international only relative to a region's IDD prefix,
  // so without a default region only "+" marks a country code.
  if (number.front() != '+' && region.empty()) {
    return Invalid("no country code and no default region");
  }
  PhoneNumber parsed;
  PhoneNumberUtil::ErrorType err =
      util.Parse(std::string(number), region.empty() ? std::string("ZZ") : region, &parsed);
  switch (err) {
    case PhoneNumberUtil::NO_PARSING_ERROR:
      break;
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
      return Invalid("invalid country code");
    case PhoneNumberUtil::TOO_SHORT_NSN:
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
      return Invalid("too short");
    case PhoneNumberUtil::TOO_LONG_NSN:
      return Invalid("too long");
    default:
      return Invalid("not a phone number");
  }
  if (parsed.has_extension()) return Invalid("extensions are not supported");
  if (!util.IsValidNumber(parsed)) {
    switch (util.IsPossibleNumberWithReason(parsed)) {
      case PhoneNumberUtil::TOO_SHORT:
        return Invalid("too short");
      case PhoneNumberUtil::TOO_LONG:
        return Invalid("too long");
      case PhoneNumberUtil::INVALID_COUNTRY_CODE:
        return Invalid("invalid country code");
      default:
        return Invalid("not a valid number for its region");
    }
  }
  std::string e164;
  util.Format(parsed, PhoneNumberUtil::E164, &e164);
  return e164;
}

}  // namespace

Result<std::string> NormalizePhone(std::string_view number, std::string_view default_region) {
  // libphonenumber reports errors by value, but its regex and protobuf
  // layers can throw (std::bad_alloc at least); nothing may cross this line.
  try {
    return NormalizePhoneOrThrow(number, default_region);
  } catch (const std::exception&) {
    return Status::Internal("phone: libphonenumber failed");
  }
}

}  // namespace consentd::identity
