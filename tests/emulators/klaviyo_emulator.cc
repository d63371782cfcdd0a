// The Klaviyo emulator (downstream-apis.md §5): profiles with marketing
// consent per channel and list membership, suppressions, asynchronous bulk
// jobs that complete after a delay, and data-privacy deletion jobs.
//
// Every API route requires `Authorization: Klaviyo-API-Key <key>` (default
// key "pk_test"; 401 code not_authenticated), a `revision` header (400 code
// invalid) and, with a body, Content-Type application/vnd.api+json (415).
// Errors are JSON:API: {"errors":[{"id","status","code","title","detail"}]}.
// Throttled answers: 429, Retry-After, code "throttled".
//
//   POST /api/profile-subscription-bulk-create-jobs   202, no body (≤1000 profiles)
//   POST /api/profile-subscription-bulk-delete-jobs   202, no body (≤100 profiles)
//   POST /api/profile-suppression-bulk-create-jobs    202 + job resource (≤100)
//   POST /api/profile-suppression-bulk-delete-jobs    202 + job resource (≤100)
//   GET  /api/profile-suppression-bulk-create-jobs/{id}  200 job | 404
//   POST /api/data-privacy-deletion-jobs              202, no body; exactly one of id, email,
//                                                     phone_number (else 400); 404 not_found when no
//                                                     profile matches, 409 conflict while a deletion of
//                                                     the same profile is pending (both emulator
//                                                     choices, UNCONFIRMED for the real API)
//   GET  /api/profiles?filter=equals(email,"a@b.com") (or phone_number)  200 {data:[...]}
//
// Jobs are validated when posted and applied, in order, `job_delay_ms`
// (default 200) later: a subscribe job sets the channel's consent to
// SUBSCRIBED, adds the list and lifts an email suppression; an unsubscribe
// job sets UNSUBSCRIBED and leaves the list (without a list: every list,
// and an email unsubscribe suppresses with reason UNSUBSCRIBE); both create
// the profile when absent. Suppression jobs set / lift USER_SUPPRESSED.
// A deletion job removes the profile.
//
// /_emulator/state (due jobs are applied first):
//   {"profiles":[{"id":"01P000001","email":"a@b.com","phone_number":"+1...",
//                 "subscriptions":{"email":"SUBSCRIBED","sms":"NEVER_SUBSCRIBED"},
//                 "lists":["L1"],"suppression":"UNSUBSCRIBE"|"USER_SUPPRESSED"|null}],
//    "jobs":[{"id":"01J000001","type":"profile-subscription-bulk-create-job","status":"queued"|"complete",
//             "profile_count":1,"list_id":"L1"|null}],
//    "deleted_profiles":["01P000001"]}
// /_emulator/seed (all members optional):
//   {"api_key":"pk", "job_delay_ms":200,
//    "profiles":[{"email":"a@b.com","phone_number":"+1...","subscriptions":{"email":"SUBSCRIBED"},
//                 "lists":["L1"],"suppression":null}]}
// A malformed answer is the framework's malformed_next fault.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/base/bytes.h"
#include "tests/emulators/emulator.h"

namespace consentd::emulators {

namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr char kSuppressionJob[] = "profile-suppression-bulk-create-job";

void JsonApiError(httplib::Response& res, int status, const std::string& code, const std::string& title,
                  const std::string& pointer = "/data/") {
  res.status = status;
  json err = {{"id", "e0c7d5a3-3b70-4a0f-9c3b-5a1f0d2c7e11"},
              {"status", status},
              {"code", code},
              {"title", title},
              {"detail", title},
              {"source", {{"pointer", pointer}}}};
  res.set_content(json{{"errors", json::array({err})}}.dump(), "application/vnd.api+json");
}

struct Profile {
  std::string id;
  std::string email;
  std::string phone;
  std::map<std::string, std::string> consent;  // channel -> SUBSCRIBED | UNSUBSCRIBED
  std::vector<std::string> lists;
  std::optional<std::string> suppression;
};

struct ProfileRef {
  std::string id;
  std::string email;
  std::string phone;
};

struct Job {
  std::string id;
  std::string type;
  std::string status = "queued";
  std::string list_id;
  std::vector<ProfileRef> profiles;
  std::vector<std::string> channels;  // per profile: "email", "sms" or both "email,sms"
  SteadyClock::time_point due;
  std::string created_at;
};

struct KlaviyoState {
  std::string api_key = "pk_test";
  int job_delay_ms = 200;
  int next_profile = 1;
  int next_job = 1;
  // Profiles by id (ids are sequential, so this is creation order), with
  // indexes by email and phone; jobs in creation order, the first
  // `applied` of them complete. Every lookup is logarithmic, so that
  // benchmark runs of many thousand changes stay fast.
  std::map<std::string, Profile> profiles;
  std::map<std::string, std::string> by_email, by_phone;
  std::deque<Job> jobs;
  size_t applied = 0;
  std::map<std::string, size_t> job_index;      // job id -> position in jobs
  std::set<std::string> pending_deletions;       // profile ids
  std::vector<std::string> deleted_profiles;

  std::string NewId(char kind, int* counter) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "01%c%06d", kind, (*counter)++);
    return buf;
  }

  // The profile named by id, else by email, else by phone.
  Profile* Find(const ProfileRef& ref) {
    std::string id = ref.id;
    if (id.empty() && !ref.email.empty() && by_email.count(ref.email)) id = by_email[ref.email];
    if (id.empty() && !ref.phone.empty() && by_phone.count(ref.phone)) id = by_phone[ref.phone];
    auto it = profiles.find(id);
    return it == profiles.end() ? nullptr : &it->second;
  }

  Profile* FindOrCreate(const ProfileRef& ref) {
    Profile* p = Find(ref);
    if (p == nullptr) {
      const std::string id = NewId('P', &next_profile);
      p = &profiles[id];
      p->id = id;
    }
    if (p->email.empty() && !ref.email.empty() && !by_email.count(ref.email)) {
      p->email = ref.email;
      by_email[ref.email] = p->id;
    }
    if (p->phone.empty() && !ref.phone.empty() && !by_phone.count(ref.phone)) {
      p->phone = ref.phone;
      by_phone[ref.phone] = p->id;
    }
    return p;
  }

  void Delete(const std::string& id) {
    auto it = profiles.find(id);
    if (it == profiles.end()) return;
    by_email.erase(it->second.email);
    by_phone.erase(it->second.phone);
    deleted_profiles.push_back(id);
    profiles.erase(it);
  }

  void Add(Job job) {
    job_index[job.id] = jobs.size();
    if (job.type == "data-privacy-deletion-job") pending_deletions.insert(job.profiles[0].id);
    jobs.push_back(std::move(job));
  }

  void Apply(Job& job) {
    job.status = "complete";
    for (size_t i = 0; i < job.profiles.size(); ++i) {
      const ProfileRef& ref = job.profiles[i];
      if (job.type == "data-privacy-deletion-job") {
        pending_deletions.erase(ref.id);
        Delete(ref.id);
        continue;
      }
      Profile* p = FindOrCreate(ref);
      const std::string& channels = job.channels[i];
      if (job.type == "profile-suppression-bulk-create-job") {
        p->suppression = "USER_SUPPRESSED";
      } else if (job.type == "profile-suppression-bulk-delete-job") {
        if (p->suppression == "USER_SUPPRESSED") p->suppression.reset();
      } else if (job.type == "profile-subscription-bulk-create-job") {
        for (const char* ch : {"email", "sms"}) {
          if (channels.find(ch) != std::string::npos) p->consent[ch] = "SUBSCRIBED";
        }
        if (channels.find("email") != std::string::npos) p->suppression.reset();
        if (!job.list_id.empty() &&
            std::find(p->lists.begin(), p->lists.end(), job.list_id) == p->lists.end()) {
          p->lists.push_back(job.list_id);
        }
      } else if (job.type == "profile-subscription-bulk-delete-job") {
        for (const char* ch : {"email", "sms"}) {
          if (channels.find(ch) != std::string::npos) p->consent[ch] = "UNSUBSCRIBED";
        }
        if (job.list_id.empty()) {
          p->lists.clear();
          if (channels.find("email") != std::string::npos) p->suppression = "UNSUBSCRIBE";
        } else {
          p->lists.erase(std::remove(p->lists.begin(), p->lists.end(), job.list_id), p->lists.end());
        }
      }
    }
  }

  // Applies every due job, in creation order (a job waits for the ones before it).
  void Tick() {
    const auto now = SteadyClock::now();
    while (applied < jobs.size() && jobs[applied].due <= now) Apply(jobs[applied++]);
  }

  json JobResource(const Job& job) const {
    return {{"data",
             {{"type", job.type},
              {"id", job.id},
              {"attributes",
               {{"status", job.status},
                {"created_at", job.created_at},
                {"total_count", job.profiles.size()},
                {"completed_count", job.status == "complete" ? job.profiles.size() : 0},
                {"completed_at", job.status == "complete" ? json(job.created_at) : json(nullptr)}}}}}};
  }
};

// Reads a JSON:API job body of `type`: data.attributes.profiles.data[] (1..max),
// each with attributes.email and/or phone_number, and the channels its
// subscriptions name. Writes the error answer and returns false when invalid.
bool ParseProfiles(const json& body, const std::string& type, size_t max, bool subscriptions, Job* job,
                   httplib::Response& res) {
  if (!body.is_object() || !body.contains("data") || !body["data"].is_object()) {
    JsonApiError(res, 400, "invalid", "Invalid input.", "/data");
    return false;
  }
  const json& data = body["data"];
  if (data.value("type", std::string()) != type) {
    JsonApiError(res, 409, "conflict", "The type does not match the endpoint.", "/data/type");
    return false;
  }
  const json attrs = data.value("attributes", json::object());
  if (attrs.contains("historical_import") && !attrs["historical_import"].is_boolean()) {
    JsonApiError(res, 400, "invalid", "Invalid input.", "/data/attributes/historical_import");
    return false;
  }
  const bool historical = attrs.value("historical_import", false);
  const json profiles = attrs.contains("profiles") && attrs["profiles"].is_object()
                            ? attrs["profiles"].value("data", json())
                            : json();
  if (!profiles.is_array() || profiles.empty() || profiles.size() > max) {
    JsonApiError(res, 400, "invalid", "Between 1 and " + std::to_string(max) + " profiles are required.",
                 "/data/attributes/profiles/data");
    return false;
  }
  for (const json& p : profiles) {
    if (!p.is_object() || p.value("type", std::string()) != "profile" || !p.contains("attributes") ||
        !p["attributes"].is_object()) {
      JsonApiError(res, 400, "invalid", "Invalid profile.", "/data/attributes/profiles/data");
      return false;
    }
    const json& a = p["attributes"];
    ProfileRef ref;
    if (a.contains("email") && a["email"].is_string()) ref.email = a["email"];
    if (a.contains("phone_number") && a["phone_number"].is_string()) ref.phone = a["phone_number"];
    if (ref.email.empty() && ref.phone.empty()) {
      JsonApiError(res, 400, "invalid", "A profile needs an email or a phone number.",
                   "/data/attributes/profiles/data");
      return false;
    }
    std::string channels;
    if (subscriptions) {
      const json subs = a.value("subscriptions", json::object());
      for (const auto& [ch, v] : subs.items()) {
        if (ch != "email" && ch != "sms") {
          JsonApiError(res, 400, "invalid", "Unknown channel.", "/data/attributes/profiles/data");
          return false;
        }
        const json marketing = v.is_object() ? v.value("marketing", json::object()) : json();
        const std::string consent = marketing.is_object() ? marketing.value("consent", std::string()) : "";
        const std::string want = type == "profile-subscription-bulk-create-job" ? "SUBSCRIBED" : "UNSUBSCRIBED";
        if (consent != want) {
          JsonApiError(res, 400, "invalid", "consent must be " + want + ".", "/data/attributes/profiles/data");
          return false;
        }
        if (marketing.contains("consented_at") && !historical) {
          JsonApiError(res, 400, "invalid", "consented_at requires historical_import.",
                       "/data/attributes/profiles/data");
          return false;
        }
        if ((ch == "email" && ref.email.empty()) || (ch == "sms" && ref.phone.empty())) {
          JsonApiError(res, 400, "invalid", "The channel's identifier is missing.", "/data/attributes/profiles/data");
          return false;
        }
        channels += channels.empty() ? ch : "," + ch;
      }
      if (channels.empty()) {
        JsonApiError(res, 400, "invalid", "subscriptions are required.", "/data/attributes/profiles/data");
        return false;
      }
    }
    job->profiles.push_back(ref);
    job->channels.push_back(channels);
  }
  if (data.contains("relationships") && data["relationships"].is_object() &&
      data["relationships"].contains("list")) {
    const json& l = data["relationships"]["list"];
    if (!l.is_object() || !l.contains("data") || !l["data"].is_object() ||
        l["data"].value("type", std::string()) != "list" || !l["data"].contains("id") ||
        !l["data"]["id"].is_string()) {
      JsonApiError(res, 400, "invalid", "Invalid list relationship.", "/data/relationships/list");
      return false;
    }
    job->list_id = l["data"]["id"];
  }
  return true;
}

}  // namespace

void RegisterKlaviyo(Emulator& emu) {
  auto st = std::make_shared<KlaviyoState>();

  emu.SetAuth(
      [st, &emu](const httplib::Request& req, bool expired) {
        if (expired) return false;
        const std::string prefix = "Klaviyo-API-Key ";
        std::string auth = req.get_header_value("Authorization");
        if (auth.rfind(prefix, 0) != 0) return false;
        std::lock_guard<std::mutex> lock(emu.mu());
        return ConstantTimeEquals(auth.substr(prefix.size()), st->api_key);
      },
      [](const httplib::Request&, httplib::Response& res) {
        JsonApiError(res, 401, "not_authenticated", "Authentication credentials were not provided.");
      });
  emu.SetThrottleWriter([](httplib::Response& res, const std::string& retry_after) {
    JsonApiError(res, 429, "throttled", "Request was throttled.");
    res.set_header("Retry-After", retry_after);
  });
  emu.SetStateFn([st] {
    st->Tick();
    json profiles = json::array();
    for (const auto& [id, p] : st->profiles) {
      json subs = {{"email", "NEVER_SUBSCRIBED"}, {"sms", "NEVER_SUBSCRIBED"}};
      for (const auto& [ch, c] : p.consent) subs[ch] = c;
      profiles.push_back({{"id", p.id},
                          {"email", p.email.empty() ? json(nullptr) : json(p.email)},
                          {"phone_number", p.phone.empty() ? json(nullptr) : json(p.phone)},
                          {"subscriptions", subs},
                          {"lists", p.lists},
                          {"suppression", p.suppression ? json(*p.suppression) : json(nullptr)}});
    }
    json jobs = json::array();
    for (const Job& j : st->jobs) {
      jobs.push_back({{"id", j.id},
                      {"type", j.type},
                      {"status", j.status},
                      {"profile_count", j.profiles.size()},
                      {"list_id", j.list_id.empty() ? json(nullptr) : json(j.list_id)}});
    }
    return json{{"profiles", profiles},
                {"jobs", jobs},
                {"deleted_profiles", st->deleted_profiles}};
  });
  emu.SetSeedFn([st](const json& seed) {
    if (!seed.is_object()) return false;
    if (seed.contains("api_key")) st->api_key = seed.value("api_key", st->api_key);
    if (seed.contains("job_delay_ms")) st->job_delay_ms = seed.value("job_delay_ms", 200);
    for (const json& s : seed.value("profiles", json::array())) {
      if (!s.is_object()) return false;
      ProfileRef ref{"", s.value("email", std::string()), s.value("phone_number", std::string())};
      if (ref.email.empty() && ref.phone.empty()) return false;
      Profile* p = st->FindOrCreate(ref);
      const json subs = s.value("subscriptions", json::object());
      for (const auto& [ch, c] : subs.items()) p->consent[ch] = c;
      p->lists = s.value("lists", std::vector<std::string>());
      if (s.contains("suppression") && s["suppression"].is_string()) p->suppression = s["suppression"];
    }
    return true;
  });
  emu.SetResetFn([st] { *st = KlaviyoState(); });

  // The checks every API call shares, then `fn` under the state lock.
  auto api = [st, &emu](bool has_body, auto fn) {
    return [st, &emu, has_body, fn](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("revision").empty()) {
        return JsonApiError(res, 400, "invalid", "Missing revision header.", "");
      }
      if (has_body && req.get_header_value("Content-Type").rfind("application/vnd.api+json", 0) != 0) {
        return JsonApiError(res, 415, "unsupported_media_type", "Unsupported media type.", "");
      }
      std::lock_guard<std::mutex> lock(emu.mu());
      st->Tick();
      fn(req, res);
    };
  };

  auto post_job = [st](const std::string& type, size_t max, bool subscriptions, bool returns_job) {
    return [st, type, max, subscriptions, returns_job](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body, nullptr, false);
      Job job;
      if (!ParseProfiles(body, type, max, subscriptions, &job, res)) return;
      job.id = st->NewId('J', &st->next_job);
      job.type = type;
      job.due = SteadyClock::now() + std::chrono::milliseconds(st->job_delay_ms);
      job.created_at = "2024-01-01T00:00:00+00:00";
      st->Add(job);
      res.status = 202;
      if (returns_job) res.set_content(st->JobResource(job).dump(), "application/vnd.api+json");
    };
  };

  emu.Route("POST", "/api/profile-subscription-bulk-create-jobs",
            api(true, post_job("profile-subscription-bulk-create-job", 1000, true, false)));
  emu.Route("POST", "/api/profile-subscription-bulk-delete-jobs",
            api(true, post_job("profile-subscription-bulk-delete-job", 100, true, false)));
  emu.Route("POST", "/api/profile-suppression-bulk-create-jobs",
            api(true, post_job("profile-suppression-bulk-create-job", 100, false, true)));
  emu.Route("POST", "/api/profile-suppression-bulk-delete-jobs",
            api(true, post_job("profile-suppression-bulk-delete-job", 100, false, true)));
  emu.Route("GET", "/api/profile-suppression-bulk-create-jobs/([A-Za-z0-9]+)",
            api(false, [st](const httplib::Request& req, httplib::Response& res) {
              auto it = st->job_index.find(req.matches[1]);
              if (it != st->job_index.end() && st->jobs[it->second].type == kSuppressionJob) {
                return res.set_content(st->JobResource(st->jobs[it->second]).dump(), "application/vnd.api+json");
              }
              JsonApiError(res, 404, "not_found", "Not found.", "");
            }));

  emu.Route("POST", "/api/data-privacy-deletion-jobs",
            api(true, [st](const httplib::Request& req, httplib::Response& res) {
              json body = json::parse(req.body, nullptr, false);
              const json* profile = nullptr;
              if (body.is_object() && body.contains("data") && body["data"].is_object() &&
                  body["data"].value("type", std::string()) == "data-privacy-deletion-job" &&
                  body["data"].contains("attributes") && body["data"]["attributes"].is_object() &&
                  body["data"]["attributes"].contains("profile") &&
                  body["data"]["attributes"]["profile"].is_object() &&
                  body["data"]["attributes"]["profile"].contains("data") &&
                  body["data"]["attributes"]["profile"]["data"].is_object()) {
                profile = &body["data"]["attributes"]["profile"]["data"];
              }
              if (profile == nullptr) {
                return JsonApiError(res, 400, "invalid", "Invalid input.", "/data");
              }
              ProfileRef ref;
              int given = 0;
              if (profile->contains("id") && (*profile)["id"].is_string()) {
                ref.id = (*profile)["id"];
                ++given;
              }
              const json a = profile->value("attributes", json::object());
              if (a.is_object() && a.contains("email") && a["email"].is_string()) {
                ref.email = a["email"];
                ++given;
              }
              if (a.is_object() && a.contains("phone_number") && a["phone_number"].is_string()) {
                ref.phone = a["phone_number"];
                ++given;
              }
              if (given != 1) {
                return JsonApiError(res, 400, "invalid", "Exactly one of id, email or phone_number is required.",
                                    "/data/attributes/profile/data");
              }
              Profile* p = st->Find(ref);
              if (p == nullptr) return JsonApiError(res, 404, "not_found", "Profile not found.", "");
              if (st->pending_deletions.count(p->id)) {
                return JsonApiError(res, 409, "conflict", "A deletion of this profile is pending.", "");
              }
              Job job;
              job.id = st->NewId('J', &st->next_job);
              job.type = "data-privacy-deletion-job";
              job.profiles.push_back({p->id, "", ""});
              job.channels.push_back("");
              job.due = SteadyClock::now() + std::chrono::milliseconds(st->job_delay_ms);
              job.created_at = "2024-01-01T00:00:00+00:00";
              st->Add(job);
              res.status = 202;
            }));

  emu.Route("GET", "/api/profiles", api(false, [st](const httplib::Request& req, httplib::Response& res) {
              // filter=equals(email,"a@b.com") or equals(phone_number,"+1...")
              const std::string filter = req.get_param_value("filter");
              std::string field, value;
              for (const char* f : {"email", "phone_number"}) {
                const std::string prefix = std::string("equals(") + f + ",\"";
                if (filter.rfind(prefix, 0) == 0 && filter.size() > prefix.size() + 2 &&
                    filter.substr(filter.size() - 2) == "\")") {
                  field = f;
                  value = filter.substr(prefix.size(), filter.size() - prefix.size() - 2);
                }
              }
              if (field.empty()) return JsonApiError(res, 400, "invalid", "Invalid filter.", "");
              json data = json::array();
              ProfileRef ref;
              (field == "email" ? ref.email : ref.phone) = value;
              if (const Profile* p = st->Find(ref)) {
                data.push_back({{"type", "profile"},
                                {"id", p->id},
                                {"attributes", {{"email", p->email}, {"phone_number", p->phone}}}});
              }
              res.set_content(json{{"data", data}, {"links", {{"self", "/api/profiles"}}}}.dump(),
                              "application/vnd.api+json");
            }));
}

}  // namespace consentd::emulators
