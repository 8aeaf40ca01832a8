--[[ status: the first element of every script's reply. Mirrored by counter/engine/scripts.py (Status).
  Prepended first to every operation script; defines no KEYS or ARGV. ]]

local INVALID = -1
local OK, MISSING, OUT_OF_BOUNDS, OVERFLOW, EXISTS, RESET_DISABLED, MIGRATE = 0, 1, 2, 3, 4, 5, 6
local FULL = 7 -- hit.lua: not the steady state, send hit_full.lua
