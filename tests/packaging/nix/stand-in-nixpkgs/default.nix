# A stand-in for `import nixpkgs { system; overlays; }`: enough of a package set for the flake's
# overlay, nix/package.nix and nix/tests/vm.nix to evaluate. buildPythonApplication and
# runNixOSTest return their arguments, and every package is its own name, so a test can read what
# a derivation or a test is made of.
{ system, overlays ? [ ] }:
let
  lib = import ../stand-in-lib.nix;
  python3Packages = {
    buildPythonApplication = attrs: attrs;
  } // builtins.listToAttrs (map (name: { inherit name; value = "python3Packages.${name}"; }) [
    "aiosqlite" "argon2-cffi" "asyncpg" "click" "defusedxml" "rich" "junitparser" "xmlschema" "grpcio" "grpcio-health-checking" "grpcio-reflection" "grpcio-testing"
    "httpx" "hypothesis" "jinja2" "prometheus-client" "protobuf" "psutil" "pytest-asyncio" "pytest-timeout" "pytestCheckHook" "setuptools"
    "sse-starlette" "starlette" "uvicorn"
  ]);
  base = final: {
    inherit lib python3Packages;
    git = "git";
    grpcurl = "grpcurl";
    openssl = "openssl";
    jq = "jq";
    coreutils = "coreutils";
    writeText = name: text: "/nix/store/00000000000000000000000000000000-${name}";
    writeShellScript = name: text: "/nix/store/00000000000000000000000000000000-${name}";
    testers.runNixOSTest = test: test;
    stdenv.hostPlatform.system = system;
    callPackage = fn: args: import fn (builtins.intersectAttrs (builtins.functionArgs (import fn)) final // args);
  };
  pkgs = builtins.foldl' (prev: overlay: prev // overlay pkgs prev) (base pkgs) overlays;
in
pkgs
