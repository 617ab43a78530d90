# fleet's batched evaluation: every selected node in ONE evaluation, sharing all common thunks.
# spec: JSON list of { name; attr = [ "path" "to" "toplevel" ]; }
{ spec, file ? "", flake ? "" }:
let
  nodes = builtins.fromJSON spec;
  root =
    if flake != "" then builtins.getFlake flake
    else
      let imported = import file;
      in if builtins.isFunction imported then imported { } else imported;
  pick = node:
    let
      toplevel = builtins.foldl' (set: key: set.${key}) root node.attr;
    in
    {
      drv = toplevel.drvPath;
      out = toplevel.outPath;
      system = toplevel.system or null;
    };
in
builtins.listToAttrs (map (node: { name = node.name; value = pick node; }) nodes)
