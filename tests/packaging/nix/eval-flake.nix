# The flake's outputs, with the stand-in nixpkgs as its input (no fetching, no store).
let
  flake = import ../../../flake.nix;
  nixpkgs = { outPath = ./stand-in-nixpkgs; lib = import ./stand-in-lib.nix; };
  self = flake.outputs { inherit self nixpkgs; };
in
self
