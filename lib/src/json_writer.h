// Internal alias: the JSON writer is public (inferencegw/json_writer.h); library code written
// against inferencegw::internal keeps compiling.
#ifndef INFERENCEGW_SRC_JSON_WRITER_H_
#define INFERENCEGW_SRC_JSON_WRITER_H_

#include "inferencegw/json_writer.h"

namespace inferencegw::internal {
using ::inferencegw::AppendJsonDouble;
using ::inferencegw::AppendJsonString;
using ::inferencegw::JsonWriter;
}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_JSON_WRITER_H_
