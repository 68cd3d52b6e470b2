# Evaluate one module the way the NixOS module system would, for a sample host:
#   option values = the host's definitions, else the options' defaults (type-checked);
#   config        = the module's config with mkIf/mkMerge/mkDefault resolved;
#   failing assertions throw their messages, as nixos-rebuild would.
# Usage: nix-instantiate --eval --strict --json eval-module.nix --arg module ./m.nix --arg host '{...}'
{ module, host, pkgs ? { } }:
let
  lib = import ./stand-in-lib.nix;
  inherit (builtins) attrNames concatStringsSep filter foldl' isAttrs listToAttrs map;

  isOption = v: isAttrs v && (v._type or null) == "option";
  dropped = { _type = "dropped"; };

  # Option values from definitions (`defs`) and defaults, checked against their types.
  values = path: options: defs:
    builtins.mapAttrs
      (name: opt:
        let
          p = "${path}.${name}";
          def = defs.${name} or null;
        in
        if isOption opt then
          let v = if defs ? ${name} then def else opt.default or (throw "option ${p} is used but not defined");
          in if opt.type.check v then v else throw "option ${p}: ${builtins.toJSON v} is not a ${opt.type.name}"
        else values p opt (if isAttrs def then def else { }))
      options;

  declared = builtins.mapAttrs (_: o: if isOption o then true else declared o);

  # mkIf/mkMerge/mkDefault resolved; false mkIfs disappear, and so do sets left empty by them.
  resolve = v:
    let t = if isAttrs v then v._type or null else null; in
    if t == "if" then (if v.condition then resolve v.content else dropped)
    else if t == "override" then resolve v.content
    else if t == "merge" then foldl' merge { } (filter (x: x != dropped) (map resolve v.contents))
    else if isAttrs v && !(v ? outPath) then
      let
        r = builtins.mapAttrs (_: resolve) v;
        kept = filter (n: r.${n} != dropped) (attrNames r);
      in
      # An attribute set whose every definition was a false mkIf defines nothing.
      if kept == [ ] && v != { } then dropped
      else listToAttrs (map (n: { name = n; value = r.${n}; }) kept)
    else v;
  merge = a: b:
    a // builtins.mapAttrs
      (n: v:
        if a ? ${n} && isAttrs a.${n} && isAttrs v then merge a.${n} v
        else if a ? ${n} && builtins.isList a.${n} && builtins.isList v then a.${n} ++ v
        else v)
      b;

  evaluated = (import module) { inherit lib pkgs; config = final; };
  # What the module reads from `config`: the host's own definitions, with this module's options filled in.
  final = lib.recursiveUpdate host (values "" evaluated.options host);
  config = let c = resolve evaluated.config; in if c == dropped then { } else c;
  failed = filter (a: !a.assertion) (config.assertions or [ ]);
in
if failed != [ ] then
  throw "Failed assertions:\n${concatStringsSep "\n" (map (a: "- ${a.message}") failed)}"
else
  # The options declared (true at each option), without forcing values nobody defined.
  { inherit config; options = declared evaluated.options; }
