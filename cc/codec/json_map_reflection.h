// Map reflection for the JSON codec. protobuf 3.21 keeps Reflection::MapBegin,
// MapEnd and InsertOrLookupMapValue private; the public alternative, the
// repeated-entry view, holds *copies* of map entries in insertion order, while
// MessageToJsonString prints maps (nested ones included) in the order binary
// serialization walks the map itself. Byte-identical output needs the real
// map, so these reach the private members through the standard's explicit
// instantiation access rule ([temp.spec]/6). A protobuf upgrade that changes
// these signatures fails to compile here rather than misbehaving.
#pragma once

#include "google/protobuf/map_field.h"
#include "google/protobuf/message.h"

namespace kei::json_internal {
namespace map_reflection_detail {

using google::protobuf::FieldDescriptor;
using google::protobuf::MapIterator;
using google::protobuf::MapKey;
using google::protobuf::MapValueRef;
using google::protobuf::Message;
using google::protobuf::Reflection;

template <typename Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type Get(Tag) { return Member; }
};

struct MapBeginTag {
  using type = MapIterator (Reflection::*)(Message*, const FieldDescriptor*) const;
  friend type Get(MapBeginTag);
};
struct MapEndTag {
  using type = MapIterator (Reflection::*)(Message*, const FieldDescriptor*) const;
  friend type Get(MapEndTag);
};
struct InsertOrLookupTag {
  using type = bool (Reflection::*)(Message*, const FieldDescriptor*, const MapKey&,
                                    MapValueRef*) const;
  friend type Get(InsertOrLookupTag);
};

template struct Expose<MapBeginTag, &Reflection::MapBegin>;
template struct Expose<MapEndTag, &Reflection::MapEnd>;
template struct Expose<InsertOrLookupTag, &Reflection::InsertOrLookupMapValue>;

}  // namespace map_reflection_detail

// Iterates the map itself (syncing it from the repeated view first, as
// serialization does). `message` is not changed observably.
inline google::protobuf::MapIterator MapBegin(const google::protobuf::Message& message,
                                              const google::protobuf::FieldDescriptor* field) {
  using namespace map_reflection_detail;
  return (message.GetReflection()->*Get(MapBeginTag{}))(const_cast<Message*>(&message), field);
}
inline google::protobuf::MapIterator MapEnd(const google::protobuf::Message& message,
                                            const google::protobuf::FieldDescriptor* field) {
  using namespace map_reflection_detail;
  return (message.GetReflection()->*Get(MapEndTag{}))(const_cast<Message*>(&message), field);
}
// Returns false when `key` was already present.
inline bool InsertOrLookupMapValue(google::protobuf::Message* message,
                                   const google::protobuf::FieldDescriptor* field,
                                   const google::protobuf::MapKey& key,
                                   google::protobuf::MapValueRef* value) {
  using namespace map_reflection_detail;
  return (message->GetReflection()->*Get(InsertOrLookupTag{}))(message, field, key, value);
}

}  // namespace kei::json_internal
