export interface UserModel {
  id: string;
  username: string;
  displayName: string;
  createdAt: Date;
}

export interface AuthPayloadModel {
  token: string;
  expiresAt: Date;
  user: UserModel;
}
