# The example fleet's systems: an attribute set node name -> system toplevel (a derivation).
# Lab stand-ins (no nixpkgs offline); with NixOS this would be e.g.
#   web-1 = (import <nixpkgs/nixos> { configuration = ./web.nix; }).config.system.build.toplevel;
let
  system = import ../../fixtures/nix/system.nix;
  web = system { name = "example-web"; };
in
{
  web-1 = web;
  web-2 = web; # identical to web-1: built once
  db-1 = system { name = "example-db"; };
}
