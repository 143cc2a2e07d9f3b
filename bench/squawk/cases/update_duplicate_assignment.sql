UPDATE users SET plan = 'pro', plan = 'team' WHERE id = 1;
