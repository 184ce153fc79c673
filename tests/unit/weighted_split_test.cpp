// Tests for weighted_split arrive with its implementation.
#include <catch2/catch.hpp>
