-- The four office databases of the default configuration (config/*.toml).
-- The offices also create them themselves if missing (python -m sync init-db).
CREATE DATABASE IF NOT EXISTS branch_sync_ho CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS branch_sync_bo1 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS branch_sync_bo2 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS branch_sync_bo3 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
