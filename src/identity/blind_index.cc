#include "src/identity/blind_index.h"

#include <sodium.h>

namespace consentd::identity {
namespace {

KeyedBlindIndex Compute(const vault::Key& key, std::string_view input) {
  KeyedBlindIndex out;
  out.key_id = key.id;
  crypto_generichash(out.bidx.data(), out.bidx.size(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), key.bytes.data(), key.bytes.size());
  return out;
}

}  // namespace

KeyedBlindIndex BlindIndexer::Current(const domain::NormalizedIdentifier& id) const {
  return CurrentOf(id.BlindIndexInput());
}

KeyedBlindIndex BlindIndexer::CurrentOf(std::string_view input) const {
  return Compute(keys_.current(), input);
}

Result<KeyedBlindIndex> BlindIndexer::Under(uint32_t key_id, const domain::NormalizedIdentifier& id) const {
  const vault::Key* key = keys_.Find(key_id);
  if (key == nullptr) return Status::NotFound("no blind-index key with id " + std::to_string(key_id));
  return Compute(*key, id.BlindIndexInput());
}

std::vector<KeyedBlindIndex> BlindIndexer::All(const domain::NormalizedIdentifier& id) const {
  return AllOf(id.BlindIndexInput());
}

std::vector<KeyedBlindIndex> BlindIndexer::AllOf(std::string_view input) const {
  std::vector<KeyedBlindIndex> out;
  out.push_back(Compute(keys_.current(), input));
  for (const vault::Key& k : keys_.keys()) {
    if (k.id != keys_.current().id) out.push_back(Compute(k, input));
  }
  return out;
}

}  // namespace consentd::identity
