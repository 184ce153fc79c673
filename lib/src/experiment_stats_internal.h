// Internal: the rows of /admin/experiments, shared by ExperimentStats::RenderJson and
// RenderExperimentsJson (experiment_compare.h), which adds the comparisons.
#ifndef INFERENCEGW_SRC_EXPERIMENT_STATS_INTERNAL_H_
#define INFERENCEGW_SRC_EXPERIMENT_STATS_INTERNAL_H_

#include <vector>

#include "inferencegw/experiment_stats.h"
#include "json_writer.h"

namespace inferencegw::internal {

// Writes `"experiments":[...]` (key and array) into the open object of `*w`.
void WriteExperimentRows(const std::vector<ExperimentStatsRow>& rows, JsonWriter* w);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_EXPERIMENT_STATS_INTERNAL_H_
