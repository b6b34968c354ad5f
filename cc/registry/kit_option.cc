#include "cc/registry/kit_option.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/unknown_field_set.h"

namespace kei {

namespace gp = google::protobuf;

absl::StatusOr<std::unique_ptr<gp::Message>> FindKitOption(const gp::Message& options,
                                                           const gp::DescriptorPool* pool,
                                                           absl::string_view extension_name,
                                                           int extension_number,
                                                           absl::string_view type_name) {
  const gp::Reflection* r = options.GetReflection();
  // A known extension: the generated one is linked in (the usual case).
  std::vector<const gp::FieldDescriptor*> fields;
  r->ListFields(options, &fields);
  for (const gp::FieldDescriptor* f : fields) {
    if (f->is_extension() && f->full_name() == extension_name &&
        f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      const gp::Message& value = r->GetMessage(options, f);
      std::unique_ptr<gp::Message> copy(value.New());
      copy->CopyFrom(value);
      return copy;
    }
  }
  // Otherwise it is still on the wire, as an unknown field.
  std::string bytes;
  bool found = false;
  const gp::UnknownFieldSet& unknown = r->GetUnknownFields(options);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const gp::UnknownField& f = unknown.field(i);
    if (f.number() == extension_number && f.type() == gp::UnknownField::TYPE_LENGTH_DELIMITED) {
      bytes += f.length_delimited();  // repeated occurrences merge
      found = true;
    }
  }
  if (!found) return std::unique_ptr<gp::Message>();
  const std::string type_full_name(type_name);
  const gp::Descriptor* type = pool != nullptr ? pool->FindMessageTypeByName(type_full_name) : nullptr;
  if (type == nullptr) type = gp::DescriptorPool::generated_pool()->FindMessageTypeByName(type_full_name);
  if (type == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("option ", extension_name, " is set, but ",
                                                   type_name, " is not a known type"));
  }
  // Messages from a DynamicMessageFactory must not outlive it: one factory
  // for the life of the process (GetPrototype is thread-safe).
  static gp::DynamicMessageFactory* const factory = new gp::DynamicMessageFactory;
  std::unique_ptr<gp::Message> parsed(factory->GetPrototype(type)->New());
  if (!parsed->ParseFromString(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse option ", extension_name));
  }
  return parsed;
}

}  // namespace kei
