# The fleetdeck Python application, built from pyproject.toml: its dependencies are read from there,
# so the two cannot drift. The test suite runs in checkPhase, less what needs the outside world.
{ lib, python3Packages, git, grpcurl, openssl }:
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
  # The agent's pull runs git; the host's own git comes first when it has one.
  makeWrapperArgs = [ "--suffix" "PATH" ":" "${git}/bin" ];

  # git for the agent's pulls, openssl for the TLS tests' throw-away CA, grpcurl for the API examples.
  nativeCheckInputs = [ git grpcurl openssl ] ++ (with python3Packages; [
    pytestCheckHook
    pytest-asyncio
    pytest-timeout
    grpcio-testing
    junitparser
    xmlschema
  ]);
  preCheck = ''
    export HOME=$(mktemp -d)
  '';
  # Left out in the build sandbox: the web UI tests (their fixtures drive a real Chromium through
  # Playwright) and the packaging tests (they need nix-instantiate, systemd-analyze and PyPI).
  disabledTestPaths = [
    "tests/webui"
    "tests/packaging"
  ];
  pythonImportsCheck = [ "fleetdeck" "controlplane" "agent" "webui" ];

  meta = {
    inherit (project) description;
    mainProgram = "fleetdeck";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
