#include "inferencegw/experiment.h"

namespace inferencegw {

std::string_view ArmName(Arm arm) {
  switch (arm) {
    case Arm::kControl: return "control";
    case Arm::kTreatment: return "treatment";
    case Arm::kNone: break;
  }
  return "none";
}

}  // namespace inferencegw
