# The fleetdeck Python application, built from pyproject.toml: its dependencies are read from there,
# so the two cannot drift. The test suite runs in checkPhase, less what needs the outside world.
{ lib, python3Packages, git }:
let
  project = (builtins.fromTOML (builtins.readFile ../pyproject.toml)).project;
  # "grpcio==1.85.3" -> python3Packages.grpcio (nixpkgs names Python packages as PyPI does).
  fromSpec = spec: python3Packages.${builtins.head (builtins.match "([A-Za-z0-9._-]+).*" spec)};
in
python3Packages.buildPythonApplication {
  pname = project.name;
  inherit (project) version;
  pyproject = true;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [ ../pyproject.toml ../src ../tests ];
  };

  build-system = [ python3Packages.setuptools ];
  dependencies = map fromSpec project.dependencies;
  # pyproject.toml pins exact versions for its own venv; nixpkgs brings its own, tested here.
  pythonRelaxDeps = true;

  nativeCheckInputs = [ git ] ++ (with python3Packages; [
    pytestCheckHook
    pytest-asyncio
    pytest-timeout
    httpx
    grpcio-testing
  ]);
  # Left out in the build sandbox: the web UI tests drive a real Chromium through Playwright; the
  # packaging tests need nix-instantiate, systemd-analyze and PyPI; two tests run the grpcurl binary
  # that the dev extras install beside the interpreter.
  disabledTestPaths = [
    "tests/webui"
    "tests/packaging"
    "tests/agent/test_agent_demo.py"
  ];
  disabledTests = [ "test_grpcurl_lists_services_and_hosts" ];
  pythonImportsCheck = [ "fleetdeck" "controlplane" "agent" "webui" ];

  meta = {
    inherit (project) description;
    mainProgram = "fleetdeck";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
