# nix/tests/vm.nix with the stand-in nixpkgs: the test's name, its Python test script, and each
# node's own definitions (its module less `imports`, and its packages by name), for eval-module.nix.
let
  self = import ./eval-flake.nix;
  pkgs = import ./stand-in-nixpkgs { system = "x86_64-linux"; overlays = [ self.overlays.default ]; };
  test = import ../../../nix/tests/vm.nix { inherit pkgs self; };
  byName = p: if builtins.isAttrs p then p.pname else p;
in
{
  inherit (test) name testScript;
  nodes = builtins.mapAttrs
    (name: node:
      let m = node { }; in
      removeAttrs m [ "imports" "environment" ] // {
        networking.hostName = name;
        packages = map byName m.environment.systemPackages;
      })
    test.nodes;
}
