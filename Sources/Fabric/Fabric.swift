// Fabric
