// inferencegw._core: the private extension behind the inferencegw package.
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "inferencegw's C++ core: config loading, routing decisions and the simulator.";
#ifdef INFERENCEGW_VERSION
  m.attr("__version__") = INFERENCEGW_VERSION;  // meson.build's project version
#endif
  inferencegw::python::init_config(m);
  inferencegw::python::init_hash(m);
  inferencegw::python::init_router(m);
  inferencegw::python::init_trace(m);
  inferencegw::python::init_experiment(m);
  inferencegw::python::init_simulator(m);
}
