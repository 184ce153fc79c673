// Tests for experiment arrive with its implementation.
#include <catch2/catch.hpp>
