{
  description = "Fleetdeck: a control plane for NixOS and macOS fleets, with an agent on every host";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      linux = [ "x86_64-linux" "aarch64-linux" ];
      systems = linux ++ [ "x86_64-darwin" "aarch64-darwin" ];
      forSystems = names: f: nixpkgs.lib.genAttrs names
        (system: f (import nixpkgs { inherit system; overlays = [ self.overlays.default ]; }));
      # The flake's own package is the modules' default, so a fleet needs no overlay.
      withPackage = module: { lib, pkgs, ... }: {
        imports = [ module.file ];
        services.${module.service}.package =
          lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.fleetdeck;
      };
    in
    {
      overlays.default = final: _prev: {
        fleetdeck = final.callPackage ./nix/package.nix { };
      };

      packages = forSystems systems (pkgs: {
        fleetdeck = pkgs.fleetdeck;
        default = pkgs.fleetdeck;
      });

      nixosModules = {
        agent = withPackage { service = "fleetdeck-agent"; file = ./nix/modules/agent.nix; };
        controlplane = withPackage { service = "fleetdeck-controlplane"; file = ./nix/modules/controlplane.nix; };
      };

      darwinModules.agent = withPackage { service = "fleetdeck-agent"; file = ./nix/modules/darwin-agent.nix; };

      checks = forSystems linux (pkgs: {
        fleetdeck = pkgs.fleetdeck;
        vm = import ./nix/tests/vm.nix { inherit pkgs self; };
      });
    };
}
