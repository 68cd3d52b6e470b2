# A fleet's flake (the example in docs/nixos.md) with stand-ins for its inputs: nixosSystem returns
# its arguments, and Fleetdeck's flake is this repository's. For each host: which Fleetdeck module
# it imports, and its inline modules (attribute sets) merged: the definitions eval-module.nix takes.
{ flakeFile }:
let
  lib = import ./stand-in-lib.nix;
  nixpkgs = { lib = lib // { nixosSystem = args: args; }; };
  fleetdeck = import ./eval-flake.nix;
  fleet = (import flakeFile).outputs { self = fleet; inherit nixpkgs fleetdeck; };
  fleetdeckModule = system: modules:
    let
      applied = map (m: m { inherit lib; pkgs.stdenv.hostPlatform.system = system; })
        (builtins.filter builtins.isFunction modules);
    in
    map (m: baseNameOf (builtins.head m.imports)) applied;
in
builtins.mapAttrs
  (_: cfg: {
    inherit (cfg) system;
    fleetdeck = fleetdeckModule cfg.system cfg.modules;
    definitions = builtins.foldl' lib.recursiveUpdate { } (builtins.filter builtins.isAttrs cfg.modules);
  })
  fleet.nixosConfigurations
