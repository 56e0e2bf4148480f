#!/usr/bin/perl
# GeoLite2-City.mmdb and GeoLite2-ASN.mmdb covering loopback only, written into the directory ARGV[0]:
# mirrorbits will not start without both, and the real ones cannot be fetched here. Loopback is in
# Europe, AS 64512 (private use); remove_reserved_networks => 0 keeps 127.0.0.0/8 in the tree.
use strict; use warnings;
# (the module warns that it is deprecated: its successor is not packaged in Debian)
use MaxMind::DB::Writer::Tree;
my $dir = shift or die "usage: geoip-loopback.pl DIR\n";
my %types = (city => 'map', continent => 'map', country => 'map', location => 'map', names => 'map',
             code => 'utf8_string', iso_code => 'utf8_string', en => 'utf8_string', geoname_id => 'uint32',
             latitude => 'double', longitude => 'double', accuracy_radius => 'uint16', time_zone => 'utf8_string',
             autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string');
sub tree { MaxMind::DB::Writer::Tree->new(ip_version => 6, record_size => 28, database_type => $_[0],
    languages => ['en'], description => { en => 'loopback only, for tests' }, remove_reserved_networks => 0,
    map_key_type_callback => sub { $types{$_[0]} or die "no type for $_[0]\n" }) }
my $city = tree('GeoLite2-City');
$city->insert_network('127.0.0.0/8', { continent => { code => 'EU', names => { en => 'Europe' } },
    country => { iso_code => 'FR', names => { en => 'France' } }, city => { names => { en => 'Paris' } },
    location => { latitude => 48.85, longitude => 2.35, accuracy_radius => 10, time_zone => 'Europe/Paris' } });
my $asn = tree('GeoLite2-ASN');
$asn->insert_network('127.0.0.0/8', { autonomous_system_number => 64512, autonomous_system_organization => 'loopback' });
for ([$city, 'GeoLite2-City.mmdb'], [$asn, 'GeoLite2-ASN.mmdb']) {
    open my $fh, '>:raw', "$dir/$_->[1]" or die "$dir/$_->[1]: $!\n";
    $_->[0]->write_tree($fh); close $fh or die;
}
